/*
 * control - control/ settings.  See control.h.
 */
#include "control.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int
read_setting(const char *root, const struct control_setting *s, struct control_value *v,
	     struct buf *err)
{
	struct buf path = BUF_INIT;
	buf_printf(&path, "%s/control/%s", root, s->name);
	v->setting = s;
	v->from_file = 0;
	const char *text = s->def;
	char *line = NULL;
	size_t cap = 0;
	unsigned long lineno = 0, found_line = 0;
	int rc = -1;
	FILE *f = fopen(path.data, "re");
	if (f == NULL && errno != ENOENT) {
		buf_printf(err, "unable to read %s: %s", path.data, strerror(errno));
		goto out;
	}
	if (f != NULL) {
		ssize_t n;
		while ((n = getline(&line, &cap, f)) >= 0) {
			lineno++;
			if (strlen(line) != (size_t)n) {
				buf_printf(err, "%s:%lu: contains a NUL byte", path.data, lineno);
				fclose(f);
				goto out;
			}
			while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' ||
					 line[n - 1] == ' ' || line[n - 1] == '\t'))
				line[--n] = '\0';
			char *p = line;
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p == '\0' || *p == '#')
				continue;
			memmove(line, p, strlen(p) + 1);
			text = line;
			found_line = lineno;
			v->from_file = 1;
			break;
		}
		if (ferror(f)) {
			buf_printf(err, "unable to read %s: %s", path.data, strerror(errno));
			fclose(f);
			goto out;
		}
		fclose(f);
	}
	v->text = xstrdup(text ? text : "");
	if (s->is_int) {
		char *end;
		errno = 0;
		long n = strtol(v->text, &end, 10);
		if (errno != 0 || end == v->text || *end != '\0' || n < s->min || n > s->max) {
			if (v->from_file)
				buf_printf(err, "%s:%lu: \"%s\" is not a number from %ld to %ld",
					   path.data, found_line, v->text, s->min, s->max);
			else
				buf_printf(err, "bad default for %s", s->name);
			goto out;
		}
		v->number = n;
	}
	rc = 0;
out:
	free(line);
	buf_free(&path);
	return rc;
}

int
control_load(const char *root, const struct control_setting *table, struct control_value *values,
	     struct buf *err)
{
	for (size_t i = 0; table[i].name != NULL; i++) {
		memset(&values[i], 0, sizeof values[i]);
		if (read_setting(root, &table[i], &values[i], err) == -1) {
			for (size_t j = 0; j <= i; j++)
				free(values[j].text), values[j].text = NULL;
			return -1;
		}
	}
	return 0;
}

int
control_read_secret(const char *root, size_t min, struct buf *out, struct buf *err)
{
	static const struct control_setting secret = {"secret", 0, NULL, 0, 0, "token key"};
	struct control_value v = {0};
	if (read_setting(root, &secret, &v, err) == -1) {
		free(v.text);
		return -1;
	}
	int rc = 0;
	if (v.from_file) {
		if (strlen(v.text) < min) {
			buf_printf(err, "%s/control/secret: shorter than %zu characters", root, min);
			rc = -2;
		} else {
			buf_append_str(out, v.text);
			rc = 1;
		}
	}
	explicit_bzero(v.text, strlen(v.text));
	free(v.text);
	return rc;
}

void
control_free(const struct control_setting *table, struct control_value *values)
{
	for (size_t i = 0; table[i].name != NULL; i++) {
		free(values[i].text);
		values[i].text = NULL;
	}
}

void
control_dump(FILE *out, const struct control_setting *table, const struct control_value *values)
{
	for (size_t i = 0; table[i].name != NULL; i++)
		fprintf(out, "%-12s = %-24s (%s)  # %s\n", table[i].name, values[i].text,
			values[i].from_file ? "control file" : "default", table[i].doc);
}
