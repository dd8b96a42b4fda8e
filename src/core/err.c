/* err.c: the single error table's names and messages. */
#include "core.h"

const char *itd_err_name(int rc)
{
	switch (rc) {
#define ITD_ERR_NAME(name, val, msg) \
	case (val):                  \
		return #name;
		ITD_ERRORS(ITD_ERR_NAME)
#undef ITD_ERR_NAME
	}
	return "UNKNOWN";
}

const char *itd_err_msg(int rc)
{
	switch (rc) {
#define ITD_ERR_MSG(name, val, msg) \
	case (val):                 \
		return msg;
		ITD_ERRORS(ITD_ERR_MSG)
#undef ITD_ERR_MSG
	}
	return "unknown error";
}
