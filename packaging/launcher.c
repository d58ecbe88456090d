/*
 * Front of the single-file docker-credential-imgpkg: runs the PyInstaller one-folder build appended to this
 * executable by packaging/pack.py, from a per-user cache, so the bundle is unpacked once and not at every run.
 *
 *   cache:   ${XDG_CACHE_HOME:-$HOME/.cache}/docker-credential-imgpkg/<version>-<sha256 of the bundle>/
 *   fast:    check the cache path, then execv() the bundled program with argv and the environment untouched
 *   miss:    unpack into a private mkdtemp() directory beside it, syncfs, rename() into place (atomic: a
 *            directory of that name is always complete), then as above
 *   unsafe:  if the cache path cannot be trusted or written, unpack into a private mkdtemp() directory under
 *            $TMPDIR, /tmp, /var/tmp or /dev/shm, run the program as a child, and remove the directory when it exits
 *
 * Trusted means: every directory on the resolved path is owned by root or by the effective user and is not
 * writable by group or others unless it is sticky (like /tmp), and the last two (.../docker-credential-imgpkg
 * and the bundle directory) are owned by the effective user with no group or other permissions. Then no other
 * user can add, replace or rename anything the program is loaded from.
 *
 * Its own output: on failure to start at all, a one-line message on stdout (where the credential-helper
 * protocol puts errors) and exit status 1; when the cache cannot be trusted, one warning line on stderr before
 * it runs the program from a temporary directory (warn_untrusted).
 *
 * Layout of the file: [this program][file data ...][index][trailer]. See pack.py for the writer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROGRAM "docker-credential-imgpkg"
#define MAGIC "DCI-ONEFILE-v1\0\0"
#define TRAILER_SIZE 128
#define ENTRY_FILE 0u
#define ENTRY_SYMLINK 1u
#define MAX_INDEX (1u << 20)

struct trailer {
    char magic[16];
    uint64_t index_offset;
    uint64_t index_size;
    uint32_t entry_count;
    uint32_t reserved;
    char label[24]; /* version: [0-9A-Za-z.+_-], NUL-padded */
    char key[64];   /* hex sha256 of data and index */
};

_Static_assert(sizeof(struct trailer) == TRAILER_SIZE, "trailer layout");

static struct trailer trailer;
static int self_fd = -1;
static int have_proc = 1; /* /proc/self/exe works: the bundled program finds itself through it */

static void die(const char *what, int err) {
    /* stdout: clients show the helper's stdout as the error text */
    if (err)
        printf("%s: cannot start: %s: %s\n", PROGRAM, what, strerror(err));
    else
        printf("%s: cannot start: %s\n", PROGRAM, what);
    fflush(stdout);
    _exit(1);
}

static int open_self(void) {
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0) { /* no /proc (some chroots): the path this program was started by */
        const char *execfn = (const char *)getauxval(AT_EXECFN);
        have_proc = 0;
        if (execfn)
            fd = open(execfn, O_RDONLY | O_CLOEXEC);
    }
    return fd;
}

static int read_full(int fd, void *buf, size_t len, off_t off) {
    char *p = buf;
    while (len) {
        ssize_t n = pread(fd, p, len, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n, len -= (size_t)n, off += n;
    }
    return 0;
}

static int label_ok(const char *s, size_t max) {
    size_t i = 0;
    for (; i < max && s[i]; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '+' ||
              c == '_' || c == '-'))
            return 0;
    }
    return i > 0 && i < max;
}

static void load_trailer(void) {
    struct stat st;
    self_fd = open_self();
    if (self_fd < 0)
        die("cannot open its own executable", errno);
    if (fstat(self_fd, &st) < 0 || st.st_size < TRAILER_SIZE ||
        read_full(self_fd, &trailer, TRAILER_SIZE, st.st_size - TRAILER_SIZE) < 0 ||
        memcmp(trailer.magic, MAGIC, 16) != 0)
        die("no bundle appended to this executable", 0);
    if (!label_ok(trailer.label, sizeof trailer.label))
        die("bad bundle label", 0);
    for (int i = 0; i < 64; i++)
        if (!((trailer.key[i] >= '0' && trailer.key[i] <= '9') || (trailer.key[i] >= 'a' && trailer.key[i] <= 'f')))
            die("bad bundle key", 0);
    if (trailer.index_size > MAX_INDEX || trailer.index_offset > (uint64_t)st.st_size - TRAILER_SIZE ||
        trailer.index_size > (uint64_t)st.st_size - TRAILER_SIZE - trailer.index_offset)
        die("bad bundle index", 0);
}

/* ---- trust checks --------------------------------------------------------------------------------------- */

static uid_t euid;

static int dir_trusted(const char *path, int private) {
    struct stat st;
    if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
        return 0;
    if (private) /* ours alone */
        return st.st_uid == euid && (st.st_mode & 077) == 0;
    if (st.st_uid != 0 && st.st_uid != euid)
        return 0;
    return !(st.st_mode & (S_IWGRP | S_IWOTH)) || (st.st_mode & S_ISVTX); /* sticky: others cannot rename ours */
}

/* `path` is absolute and canonical (from realpath). Checks "/" and every directory below it; the last
 * `private_tail` components must be private to the effective user. */
static int path_trusted(const char *path, int private_tail) {
    char buf[PATH_MAX];
    size_t len = strlen(path);
    int components = 0, k = 0;
    if (path[0] != '/' || len >= sizeof buf)
        return 0;
    for (size_t i = 0; i + 1 < len; i++)
        components += path[i] == '/';
    if (!dir_trusted("/", 0))
        return 0;
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len && len > 1; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        int ok = dir_trusted(buf, ++k > components - private_tail);
        buf[i] = saved;
        if (!ok)
            return 0;
    }
    return 1;
}

/* ---- unpacking ------------------------------------------------------------------------------------------ */

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st, (void)ftw;
    if (type == FTW_DP)
        rmdir(path);
    else
        unlink(path); /* files are read-only, but that does not matter in a writable directory */
    return 0;
}

static void rm_tree(const char *path) { nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static int name_ok(const char *p, size_t n) {
    /* relative, no empty, "." or ".." components */
    if (n == 0 || p[0] == '/')
        return 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && p[j] != '/')
            j++;
        if (j == i || (j - i == 1 && p[i] == '.') || (j - i == 2 && p[i] == '.' && p[i + 1] == '.'))
            return 0;
        i = j + 1;
        if (j == n - 1)
            return 0; /* trailing slash */
    }
    return memchr(p, '\0', n) == NULL;
}

static int mkdirs_for(char *path, size_t base_len) {
    for (char *s = path + base_len + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        int r = mkdir(path, 0700);
        *s = '/';
        if (r < 0 && errno != EEXIST)
            return -1;
    }
    return 0;
}

static int copy_range(int out, uint64_t off, uint64_t size) {
    char buf[1 << 16];
    while (size) {
        size_t want = size > sizeof buf ? sizeof buf : (size_t)size;
        if (read_full(self_fd, buf, want, (off_t)off) < 0)
            return -1;
        for (size_t done = 0; done < want;) {
            ssize_t w = write(out, buf + done, want - done);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return -1;
            done += (size_t)w;
        }
        off += want, size -= want;
    }
    return 0;
}

static uint32_t get32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const unsigned char *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }

/* Unpack every entry into `dir` (an empty private directory). `durable`: flush it all to disk before returning:
 * one syncfs() of the filesystem rather than an fsync() per file and directory (the bundle is hundreds of files). */
static int unpack(const char *dir, int durable) {
    unsigned char *index = malloc(trailer.index_size ? trailer.index_size : 1);
    size_t dir_len = strlen(dir), at = 0;
    int ok = 0;
    if (!index || read_full(self_fd, index, trailer.index_size, (off_t)trailer.index_offset) < 0)
        goto out;
    for (uint32_t e = 0; e < trailer.entry_count; e++) {
        /* entry: u32 kind, u32 mode, u64 offset, u64 size, u32 name length, name */
        char path[PATH_MAX];
        if (at + 28 > trailer.index_size)
            goto out;
        uint32_t kind = get32(index + at), mode = get32(index + at + 4), name_len = get32(index + at + 24);
        uint64_t off = get64(index + at + 8), size = get64(index + at + 16);
        const char *name = (const char *)index + at + 28;
        at += 28;
        if (name_len > trailer.index_size - at || !name_ok(name, name_len) || dir_len + 1 + name_len >= sizeof path ||
            off > trailer.index_offset || size > trailer.index_offset - off)
            goto out;
        at += name_len;
        memcpy(path, dir, dir_len);
        path[dir_len] = '/';
        memcpy(path + dir_len + 1, name, name_len);
        path[dir_len + 1 + name_len] = '\0';
        if (mkdirs_for(path, dir_len) < 0)
            goto out;
        if (kind == ENTRY_SYMLINK) {
            char target[PATH_MAX];
            if (size == 0 || size >= sizeof target || read_full(self_fd, target, size, (off_t)off) < 0)
                goto out;
            target[size] = '\0';
            if (target[0] == '/' || strstr(target, "..") || symlink(target, path) < 0)
                goto out; /* only links within a directory, as PyInstaller makes them */
            continue;
        }
        if (kind != ENTRY_FILE)
            goto out;
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            goto out;
        int bad = copy_range(fd, off, size) < 0 || fchmod(fd, (mode & 0100) ? 0500 : 0400) < 0;
        if (close(fd) < 0 || bad)
            goto out;
    }
    if (at != trailer.index_size)
        goto out;
    if (durable) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int bad = dfd < 0 || syncfs(dfd) < 0; /* the files' data and every directory entry, in one call */
        if (dfd >= 0)
            close(dfd);
        if (bad)
            goto out;
    }
    ok = 1;
out:
    free(index);
    return ok ? 0 : -1;
}

/* ---- the two ways to run ---------------------------------------------------------------------------------- */

static int cache_base(char *out, size_t size) {
    const char *dir = secure_getenv("XDG_CACHE_HOME"), *suffix = "";
    if (!dir || dir[0] != '/') { /* unset or relative: ignored, as the XDG spec says */
        dir = secure_getenv("HOME"), suffix = "/.cache";
        if (!dir || dir[0] != '/') {
            struct passwd *pw = getpwuid(geteuid());
            dir = pw ? pw->pw_dir : NULL;
        }
    }
    if (!dir || dir[0] != '/' || snprintf(out, size, "%s%s", dir, suffix) >= (int)size)
        return -1;
    for (size_t n = strlen(out); n > 1 && out[n - 1] == '/'; n--)
        out[n - 1] = '\0';
    return 0;
}

static void exec_program(const char *dir, char **argv) {
    char program[PATH_MAX];
    if (snprintf(program, sizeof program, "%s/%s", dir, PROGRAM) >= (int)sizeof program)
        return;
    if (!have_proc) /* without /proc, PyInstaller's bootloader locates itself by argv[0] */
        argv[0] = program;
    execv(program, argv); /* argv and the environment are passed on untouched */
}

static void warn_untrusted(const char *path) {
    fprintf(stderr,
            "%s: not using %s: it or a directory above it is not private to uid %u; unpacking to a temporary "
            "directory instead (slower)\n",
            PROGRAM, path, (unsigned)euid);
}

/* `dir` exists (or is created, mode 0700) and is trusted; its canonical path goes to `real`. */
static int trusted_dir(const char *dir, char *real, int private_tail, int create) {
    if (create && mkdir(dir, 0700) < 0 && errno != EEXIST)
        return 0;
    return realpath(dir, real) && path_trusted(real, private_tail);
}

/* Try the per-user cache; returns only if it cannot be used. */
static void run_cached(char **argv) {
    char base[PATH_MAX], path[PATH_MAX], real[PATH_MAX];
    if (cache_base(base, sizeof base) < 0 ||
        snprintf(path, sizeof path, "%s/%s/%s-%.32s", base, PROGRAM, trailer.label, trailer.key) >= (int)sizeof path)
        return;

    if (realpath(path, real)) { /* the fast path: a realpath and one lstat per level */
        if (path_trusted(real, 2))
            exec_program(real, argv);
        else
            warn_untrusted(path);
        return; /* untrusted (left alone), or not executable here (noexec mount, damaged cache, ...) */
    }
    if (errno != ENOENT)
        return;

    /* Miss. Create only below directories that are already trusted: the parent of the cache base (normally
     * $HOME, never created), the base (~/.cache) and docker-credential-imgpkg/; then unpack into a private
     * temporary directory there and rename it into place. */
    char parent[PATH_MAX], root[PATH_MAX], tmp[PATH_MAX];
    char *slash = strrchr(strcpy(parent, base), '/');
    if (slash == parent)
        slash[1] = '\0';
    else
        *slash = '\0';
    if (!trusted_dir(parent, real, 0, 0) || !trusted_dir(base, real, 0, 1))
        return;
    if (snprintf(path, sizeof path, "%s/%s", real, PROGRAM) >= (int)sizeof path)
        return;
    if (!trusted_dir(path, root, 1, 1)) {
        if (access(path, F_OK) == 0)
            warn_untrusted(path);
        return;
    }
    if (snprintf(tmp, sizeof tmp, "%s/.unpack-XXXXXX", root) >= (int)sizeof tmp || !mkdtemp(tmp))
        return;
    if (unpack(tmp, 1) < 0) {
        rm_tree(tmp);
        return;
    }
    if (snprintf(path, sizeof path, "%s/%s-%.32s", root, trailer.label, trailer.key) >= (int)sizeof path ||
        rename(tmp, path) < 0) {
        rm_tree(tmp); /* lost a race with another first run (ENOTEMPTY/EEXIST), or failed: use what is there */
    } else {
        int dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    if (realpath(path, real) && path_trusted(real, 2))
        exec_program(real, argv);
}

static volatile pid_t child_pid;

static void forward_signal(int sig) {
    if (child_pid > 0)
        kill(child_pid, sig);
}

/* Fallback: a fresh private directory for this run only, removed afterwards. */
static int run_private(char **argv) {
    const char *tmpdir = secure_getenv("TMPDIR");
    const char *candidates[] = {tmpdir && tmpdir[0] == '/' ? tmpdir : NULL, "/tmp", "/var/tmp", "/dev/shm"};
    char tmp[PATH_MAX], real[PATH_MAX];
    int made = 0, err = 0;
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0] && !made; i++) {
        if (!candidates[i] || !realpath(candidates[i], real) || !path_trusted(real, 0))
            continue;
        if (snprintf(tmp, sizeof tmp, "%s/%s-XXXXXX", real, PROGRAM) < (int)sizeof tmp && mkdtemp(tmp))
            made = 1;
        else
            err = errno;
    }
    if (!made)
        die("no private directory to unpack into (set XDG_CACHE_HOME or TMPDIR)", err);
    if (unpack(tmp, 0) < 0) {
        err = errno;
        rm_tree(tmp);
        die("cannot unpack the bundled program", err);
    }

    /* Forward the usual termination signals to the child, as PyInstaller's one-file parent does. Blocked
     * until the child's pid is known, so none is lost in between; the child unblocks them before exec. */
    struct sigaction sa = {0};
    sigset_t forwarded, saved;
    int sigs[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};
    sa.sa_handler = forward_signal;
    sigemptyset(&sa.sa_mask);
    sigemptyset(&forwarded);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        sigaction(sigs[i], &sa, NULL);
        sigaddset(&forwarded, sigs[i]);
    }
    sigprocmask(SIG_BLOCK, &forwarded, &saved);

    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
            signal(sigs[i], SIG_DFL);
        sigprocmask(SIG_SETMASK, &saved, NULL);
        exec_program(tmp, argv);
        _exit(127);
    }
    if (pid < 0) {
        err = errno;
        rm_tree(tmp);
        die("fork", err);
    }
    child_pid = pid;
    sigprocmask(SIG_SETMASK, &saved, NULL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    rm_tree(tmp);
    if (WIFSIGNALED(status)) {
        signal(WTERMSIG(status), SIG_DFL);
        raise(WTERMSIG(status));
        return 128 + WTERMSIG(status);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int main(int argc, char **argv) {
    (void)argc;
    euid = geteuid();
    load_trailer();
    run_cached(argv);
    return run_private(argv);
}
