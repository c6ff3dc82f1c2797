/* Just enough JSON for a plugin's configuration, in C11.
 *
 * The host hands create() one JSON object (plugin.h, pgdc_vtable.create). A
 * plugin needs three things from it: is the text well-formed, what is the
 * value of a member, and what does a string value say. This reader does
 * that without allocating: every value is a span (pgdc_str) of the original
 * text, valid as long as that text is (during create()).
 *
 * Copy it into your plugin if it suits you; any JSON library does as well.
 * It checks the grammar of RFC 8259, not that strings are valid UTF-8.
 */
#ifndef EXAMPLE_CONFIG_JSON_H
#define EXAMPLE_CONFIG_JSON_H

#include <stddef.h>

#include <pgdog_control/plugin.h>

/* Deepest nesting cj_valid accepts. */
#define CJ_MAX_DEPTH 64

/* 1 when text is exactly one well-formed JSON value (whitespace around it
 * allowed), nested at most CJ_MAX_DEPTH deep; else 0. Call it first: the
 * functions below assume well-formed input. */
int cj_valid(pgdc_str text);

/* 1 when value is an object (a string), else 0. */
int cj_is_object(pgdc_str value);
int cj_is_string(pgdc_str value);

/* Walks the members of an object in order. Start with *cursor = 0; each
 * call sets *key (the raw string, quotes included: decode it with
 * cj_string) and *value and returns 1, or returns 0 after the last one. */
int cj_next(pgdc_str object, size_t* cursor, pgdc_str* key, pgdc_str* value);

/* Finds member `name` of an object (the last one when repeated, as most
 * parsers do); returns 1 and sets *value, or returns 0. */
int cj_member(pgdc_str object, const char* name, pgdc_str* value);

/* Decodes a string value into out as UTF-8, NUL-terminated. Returns 1, or
 * 0 when value is not a string, contains \u0000 or a lone surrogate, or
 * does not fit in cap - 1 bytes. */
int cj_string(pgdc_str value, char* out, size_t cap);

#endif /* EXAMPLE_CONFIG_JSON_H */
