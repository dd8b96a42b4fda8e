/* cli.h: the intentd command line (subcommands, options, exit codes). */
#ifndef ITD_CLI_H
#define ITD_CLI_H

/* Exit statuses of the binary (SPEC §11). */
enum itd_exit {
	ITD_EXIT_OK = 0,      /* success */
	ITD_EXIT_RUNTIME = 1, /* runtime failure */
	ITD_EXIT_USAGE = 2,   /* usage or configuration error */
	ITD_EXIT_VERIFY = 3,  /* verification failure */
};

/* Run the binary with its arguments; returns the exit status. */
int itd_cli_main(int argc, char **argv);

#endif
