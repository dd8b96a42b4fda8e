/* cli_main.c: subcommand dispatch (placeholder until the kernel lands). */
#include <stdio.h>

#include "cli.h"

int itd_cli_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "intentd: not yet\n");
	return ITD_EXIT_USAGE;
}
