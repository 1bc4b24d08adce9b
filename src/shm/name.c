/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "shm/name.h"

#define SYSV_PREFIX "sysv:"
#define FILE_PREFIX "file:"

static bool simple_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

/* A POSIX or SysV name: [/]X where X is [A-Za-z0-9._-]+, not .-led or --led. */
static int simple_name(const char *name, const char *s, const char **leaf)
{
	size_t len;

	if (*s == '/')
		s++;
	len = strlen(s);
	if (len == 0)
		return nshm__err(-NSHM_EBADNAME, "name \"%s\" is empty", name);
	if (len > NSHM_NAME_MAX)
		return nshm__err(-ENAMETOOLONG,
				 "name is %zu characters; the limit is %d",
				 len, NSHM_NAME_MAX);
	if (s[0] == '.' || s[0] == '-')
		return nshm__err(-NSHM_EBADNAME,
				 "name \"%.64s\" starts with '%c'", s, s[0]);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!simple_char_ok(c))
			return nshm__err(
				-NSHM_EBADNAME,
				c == '/' ? "name \"%.64s\" has a '/' inside: use file:<path> for paths"
					 : "name \"%.64s\" has a character outside [A-Za-z0-9._-] at offset %zu",
				s, i);
	}
	*leaf = s;
	return 0;
}

/* A file path: no control bytes, no ".." component, not a directory. */
static int file_path(const char *path, struct nshm__name *out)
{
	size_t len = strlen(path);
	const char *slash, *leaf;
	size_t dirlen;

	if (len == 0)
		return nshm__err(-NSHM_EBADNAME, "file: name has no path");
	if (len >= sizeof(out->dir))
		return nshm__err(-ENAMETOOLONG, "path is %zu bytes; PATH_MAX is %d",
				 len, PATH_MAX);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)path[i];

		if (c < 0x20 || c == 0x7f)
			return nshm__err(-NSHM_EBADNAME,
					 "path has control byte 0x%02x at offset %zu",
					 c, i);
	}
	/* Reject ".." as a whole component anywhere: no climbing out. */
	for (const char *p = path; *p;) {
		const char *end = strchrnul(p, '/');

		if (end - p == 2 && p[0] == '.' && p[1] == '.')
			return nshm__err(-NSHM_EBADNAME,
					 "path \"%.64s\" has a \"..\" component",
					 path);
		p = *end ? end + 1 : end;
	}
	slash = strrchr(path, '/');
	leaf = slash ? slash + 1 : path;
	if (*leaf == '\0' || strcmp(leaf, ".") == 0)
		return nshm__err(-NSHM_EBADNAME,
				 "path \"%.64s\" names a directory, not a file",
				 path);
	if (strlen(leaf) > NAME_MAX)
		return nshm__err(-ENAMETOOLONG,
				 "file name is %zu bytes; NAME_MAX is %d",
				 strlen(leaf), NAME_MAX);
	if (slash == NULL) {
		strcpy(out->dir, ".");
	} else {
		dirlen = slash == path ? 1 : (size_t)(slash - path);
		memcpy(out->dir, path, dirlen);
		out->dir[dirlen] = '\0';
	}
	strcpy(out->leaf, leaf);
	return 0;
}

/* FNV-1a; never IPC_PRIVATE (0). */
static uint32_t sysv_key(const char *leaf)
{
	uint32_t h = 2166136261u;

	for (const char *p = "nshm-sysv:"; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	for (const char *p = leaf; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h ? h : 1;
}

int nshm__name_parse(const char *name, struct nshm__name *out)
{
	const char *leaf;
	int ret;

	if (name == NULL)
		return nshm__err(-EINVAL, "name is NULL");
	memset(out, 0, sizeof(*out));

	if (strncmp(name, FILE_PREFIX, strlen(FILE_PREFIX)) == 0) {
		out->backend = NSHM_BACKEND_FILE;
		ret = file_path(name + strlen(FILE_PREFIX), out);
		if (ret == 0)
			snprintf(out->canon, sizeof(out->canon), "%s", name);
		return ret;
	}
	if (strncmp(name, SYSV_PREFIX, strlen(SYSV_PREFIX)) == 0) {
		out->backend = NSHM_BACKEND_SYSV;
		ret = simple_name(name, name + strlen(SYSV_PREFIX), &leaf);
		if (ret < 0)
			return ret;
		snprintf(out->canon, sizeof(out->canon), SYSV_PREFIX "%s", leaf);
		snprintf(out->leaf, sizeof(out->leaf), "%s", leaf);
		out->sysv_key = sysv_key(leaf);
		return 0;
	}
	out->backend = NSHM_BACKEND_POSIX;
	ret = simple_name(name, name, &leaf);
	if (ret < 0)
		return ret;
	snprintf(out->canon, sizeof(out->canon), "%s", leaf);
	snprintf(out->leaf, sizeof(out->leaf), "%s", leaf);
	strcpy(out->dir, NSHM_POSIX_DIR);
	return 0;
}

int nshm_name_check(const char *name)
{
	struct nshm__name n;

	nshm__err_clear();
	return nshm__name_parse(name, &n);
}
