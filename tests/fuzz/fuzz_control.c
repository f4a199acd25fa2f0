/* Fuzz target: the control protocol's request parser, as the server feeds it: one line,
 * NUL-terminated, split in place into words. */
#include <stdint.h>
#include <string.h>

#include "daemon/control_server.h"
#include "vpnd/control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[VPND_CTL_MAX_REQUEST + 1];
	char *argv[VPND_CTL_MAX_ARGS];
	const char *why = NULL;
	int argc = 0;

	if (size > VPND_CTL_MAX_REQUEST)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	if (vpnd_control_parse_request(line, &argc, argv, VPND_CTL_MAX_ARGS, &why) == 0) {
		/* Every word is non-empty printable text inside the line. */
		for (int i = 0; i < argc; i++)
			if (!argv[i][0] || argv[i] < line || argv[i] >= line + size)
				__builtin_trap();
	} else if (!why) {
		__builtin_trap(); /* a refusal always says why */
	}
	return 0;
}
