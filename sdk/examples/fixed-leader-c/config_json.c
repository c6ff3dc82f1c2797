/* Just enough JSON for a plugin's configuration: see config_json.h.
 *
 * The skip_* functions take [p, end) and return the position just after
 * what they skipped, or NULL when the text there is not well-formed. */
#include "config_json.h"

#include <string.h>

static const char* skip_ws(const char* p, const char* end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) ++p;
  return p;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Four hex digits at p (p + 4 <= end); -1 if they are not. */
static long hex4(const char* p, const char* end) {
  long v = 0;
  if (end - p < 4) return -1;
  for (int i = 0; i < 4; ++i) {
    const int h = hex_value(p[i]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

static const char* skip_string(const char* p, const char* end) {
  if (p >= end || *p != '"') return NULL;
  for (++p; p < end; ++p) {
    const unsigned char c = (unsigned char)*p;
    if (c == '"') return p + 1;
    if (c < 0x20) return NULL; /* control characters must be escaped */
    if (c != '\\') continue;
    if (++p >= end) return NULL;
    if (*p == 'u') {
      if (hex4(p + 1, end) < 0) return NULL;
      p += 4;
    } else if (strchr("\"\\/bfnrt", *p) == NULL || *p == '\0') {
      return NULL;
    }
  }
  return NULL; /* unterminated */
}

/* -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static const char* skip_number(const char* p, const char* end) {
  if (p < end && *p == '-') ++p;
  if (p >= end || !is_digit(*p)) return NULL;
  if (*p == '0') {
    ++p;
  } else {
    while (p < end && is_digit(*p)) ++p;
  }
  if (p < end && *p == '.') {
    if (++p >= end || !is_digit(*p)) return NULL;
    while (p < end && is_digit(*p)) ++p;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    ++p;
    if (p < end && (*p == '+' || *p == '-')) ++p;
    if (p >= end || !is_digit(*p)) return NULL;
    while (p < end && is_digit(*p)) ++p;
  }
  return p;
}

static const char* skip_literal(const char* p, const char* end, const char* word) {
  const size_t n = strlen(word);
  if ((size_t)(end - p) < n || memcmp(p, word, n) != 0) return NULL;
  return p + n;
}

static const char* skip_value(const char* p, const char* end, int depth);

/* An object or an array: open, then members separated by ',', then close. */
static const char* skip_container(const char* p, const char* end, int depth, char close) {
  if (depth >= CJ_MAX_DEPTH) return NULL;
  p = skip_ws(p + 1, end);
  if (p < end && *p == close) return p + 1;
  for (;;) {
    if (close == '}') {
      p = skip_string(p, end);
      if (p == NULL) return NULL;
      p = skip_ws(p, end);
      if (p >= end || *p != ':') return NULL;
      ++p;
    }
    p = skip_value(p, end, depth + 1);
    if (p == NULL) return NULL;
    p = skip_ws(p, end);
    if (p >= end) return NULL;
    if (*p == close) return p + 1;
    if (*p != ',') return NULL;
    p = skip_ws(p + 1, end);
  }
}

/* Skips leading whitespace and one value (not the whitespace after it). */
static const char* skip_value(const char* p, const char* end, int depth) {
  p = skip_ws(p, end);
  if (p >= end) return NULL;
  switch (*p) {
    case '{':
      return skip_container(p, end, depth, '}');
    case '[':
      return skip_container(p, end, depth, ']');
    case '"':
      return skip_string(p, end);
    case 't':
      return skip_literal(p, end, "true");
    case 'f':
      return skip_literal(p, end, "false");
    case 'n':
      return skip_literal(p, end, "null");
    default:
      return skip_number(p, end);
  }
}

int cj_valid(pgdc_str text) {
  if (text.data == NULL) return 0;
  const char* end = text.data + text.len;
  const char* p = skip_value(text.data, end, 0);
  return p != NULL && skip_ws(p, end) == end;
}

static char first_char(pgdc_str value) {
  const char* p = skip_ws(value.data, value.data + value.len);
  return p < value.data + value.len ? *p : '\0';
}

int cj_is_object(pgdc_str value) { return value.data != NULL && first_char(value) == '{'; }
int cj_is_string(pgdc_str value) { return value.data != NULL && first_char(value) == '"'; }

int cj_next(pgdc_str object, size_t* cursor, pgdc_str* key, pgdc_str* value) {
  const char* end = object.data + object.len;
  const char* p = object.data + *cursor;
  if (*cursor == 0) p = skip_ws(p, end) + 1; /* past '{' */
  p = skip_ws(p, end);
  if (p >= end || *p == '}') return 0;
  if (*p == ',') p = skip_ws(p + 1, end);
  const char* key_end = skip_string(p, end);
  key->data = p;
  key->len = (size_t)(key_end - p);
  p = skip_ws(skip_ws(key_end, end) + 1, end); /* past ':' */
  const char* value_end = skip_value(p, end, 0);
  value->data = p;
  value->len = (size_t)(value_end - p);
  *cursor = (size_t)(value_end - object.data);
  return 1;
}

int cj_member(pgdc_str object, const char* name, pgdc_str* value) {
  size_t cursor = 0;
  pgdc_str key;
  pgdc_str found;
  int have = 0;
  char decoded[256];
  while (cj_next(object, &cursor, &key, &found)) {
    if (cj_string(key, decoded, sizeof decoded) && strcmp(decoded, name) == 0) {
      *value = found;
      have = 1;
    }
  }
  return have;
}

/* Appends code point cp as UTF-8 at out[*n]; 0 when it does not fit. */
static int put_utf8(unsigned long cp, char* out, size_t cap, size_t* n) {
  unsigned char b[4];
  size_t k = 0;
  if (cp < 0x80) {
    b[k++] = (unsigned char)cp;
  } else if (cp < 0x800) {
    b[k++] = (unsigned char)(0xC0 | (cp >> 6));
    b[k++] = (unsigned char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    b[k++] = (unsigned char)(0xE0 | (cp >> 12));
    b[k++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    b[k++] = (unsigned char)(0x80 | (cp & 0x3F));
  } else {
    b[k++] = (unsigned char)(0xF0 | (cp >> 18));
    b[k++] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    b[k++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    b[k++] = (unsigned char)(0x80 | (cp & 0x3F));
  }
  if (*n + k + 1 > cap) return 0; /* and room for the NUL */
  memcpy(out + *n, b, k);
  *n += k;
  return 1;
}

/* The code point of the escape \uXXXX (or a surrogate pair) at p, which
 * points at the 'u'; advances *p past it. 0 for \u0000 or a lone surrogate. */
static unsigned long unicode_escape(const char** p, const char* end) {
  unsigned long cp = (unsigned long)hex4(*p + 1, end);
  *p += 5;
  if (cp >= 0xDC00 && cp <= 0xDFFF) return 0;
  if (cp >= 0xD800 && cp <= 0xDBFF) {
    if (end - *p < 6 || (*p)[0] != '\\' || (*p)[1] != 'u') return 0;
    const long low = hex4(*p + 2, end);
    if (low < 0xDC00 || low > 0xDFFF) return 0;
    *p += 6;
    cp = 0x10000 + ((cp - 0xD800) << 10) + ((unsigned long)low - 0xDC00);
  }
  return cp;
}

int cj_string(pgdc_str value, char* out, size_t cap) {
  if (cap == 0 || !cj_is_string(value)) return 0;
  const char* end = value.data + value.len;
  const char* p = skip_ws(value.data, end) + 1; /* past the opening quote */
  size_t n = 0;
  while (p < end && *p != '"') {
    unsigned long cp = (unsigned char)*p;
    if (*p == '\\') {
      static const char kFrom[] = "\"\\/bfnrt";
      static const char kTo[] = "\"\\/\b\f\n\r\t";
      const char escape = p[1];
      if (escape == 'u') {
        ++p;
        cp = unicode_escape(&p, end);
        if (cp == 0) return 0;
        if (!put_utf8(cp, out, cap, &n)) return 0;
        continue;
      }
      cp = (unsigned char)kTo[strchr(kFrom, escape) - kFrom];
      p += 2;
    } else {
      ++p;
    }
    if (n + 2 > cap) return 0; /* one byte and the NUL */
    out[n++] = (char)cp;       /* raw bytes pass through: UTF-8 stays UTF-8 */
  }
  out[n] = '\0';
  return 1;
}
