/*
 * orderd_money_parse as a filter, for tests/fuzz/money_diff_test.py: each
 * input line "FRACTION_DIGITS HEX_TEXT" gives one output line "RESULT VALUE"
 * (VALUE is 0 unless RESULT is 0, ORDERD_MONEY_OK). The text travels as hex
 * so any byte can be sent.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orderd/money.h"

static int hex(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int main(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        char *sp = strchr(line, ' ');
        if (sp == NULL) {
            fprintf(stderr, "money_cli: want \"DIGITS HEX\", got %s", line);
            return 2;
        }
        unsigned frac = (unsigned)strtoul(line, NULL, 10);
        char *in = sp + 1, *out = sp + 1;
        size_t len = 0;
        while (hex(in[0]) >= 0 && hex(in[1]) >= 0) {
            out[len++] = (char)(hex(in[0]) * 16 + hex(in[1]));
            in += 2;
        }
        /* an exactly sized copy: a read past the text is outside it (ASan) */
        char *text = malloc(len ? len : 1);
        if (text == NULL)
            return 2;
        memcpy(text, out, len);
        int64_t v = 0;
        int rc = orderd_money_parse(text, len, frac, &v);
        printf("%d %" PRId64 "\n", rc, rc == ORDERD_MONEY_OK ? v : 0);
        free(text);
    }
    free(line);
    return fflush(stdout) == 0 ? 0 : 2;
}
