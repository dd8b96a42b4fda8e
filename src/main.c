/* main.c: the intentd binary; everything lives in the cli module. */
#include "cli/cli.h"

int main(int argc, char **argv)
{
	return itd_cli_main(argc, argv);
}
