/* bootsys: the system calls the agent makes as PID 1, without a program
 * between it and the kernel (each fork and exec of busybox or kexec-tools
 * costs a tenth of a second under emulation, and kexec-tools brings glibc).
 *
 * mount(source, target, fstype, flags, data)
 * finit_module(path, params)
 * kexec_load(entry, segments, flags)
 *     segments: a list of (source, offset, length, mem, memsz); source is a
 *     bytes-like object, or a path whose bytes offset..offset+length are
 *     mapped read-only for the call (the page cache is what the kernel
 *     copies from: no copy in the interpreter's heap). mem and memsz are
 *     the physical destination, as the kexec_load system call takes them.
 * kexec_file_load(kernel_path, initrd_path or None, cmdline, flags)
 * reboot(cmd)      the magic numbers added here; cmd as <linux/reboot.h>
 * sync()
 *
 * Every failure raises OSError(errno). The policy (where an s390 kernel's
 * segments go, its parameter area, which call to try first) is in
 * agent/machine.py, where CPython can test it.
 *
 * Only the s390x build makes the calls: the x86_64 build of the same
 * interpreter runs the test suite on a workstation, where each function
 * checks its arguments, opens and maps its files as on s390x and then
 * raises OSError(ENOSYS) where the system call would be (no test can mount
 * over the host's /proc or reboot it).
 */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "py/objstr.h"
#include "py/runtime.h"

#define MAX_SEGMENTS 16

#if defined(__s390x__)
#define BOOTSYS_LIVE 1
#else
#define BOOTSYS_LIVE 0
#endif

#define REFUSE_OFF_S390() \
    do { \
        if (!BOOTSYS_LIVE) { \
            mp_raise_OSError(ENOSYS); \
        } \
    } while (0)

struct kexec_segment_raw {
    const void *buf;
    size_t bufsz;
    const void *mem;
    size_t memsz;
};

static mp_obj_t bootsys_mount(size_t n_args, const mp_obj_t *args) {
    const char *source = mp_obj_str_get_str(args[0]);
    const char *target = mp_obj_str_get_str(args[1]);
    const char *fstype = mp_obj_str_get_str(args[2]);
    unsigned long flags = (unsigned long)mp_obj_get_int(args[3]);
    const char *data = args[4] == mp_const_none ? NULL : mp_obj_str_get_str(args[4]);
    REFUSE_OFF_S390();
    if (mount(source, target, fstype, flags, data) != 0) {
        mp_raise_OSError(errno);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(bootsys_mount_obj, 5, 5, bootsys_mount);

static mp_obj_t bootsys_finit_module(mp_obj_t path_in, mp_obj_t params_in) {
    const char *path = mp_obj_str_get_str(path_in);
    const char *params = mp_obj_str_get_str(params_in);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        mp_raise_OSError(errno);
    }
    int err = 0;
#if BOOTSYS_LIVE && defined(SYS_finit_module)
    if (syscall(SYS_finit_module, fd, params, 0) != 0) {
        err = errno;
    }
#else
    (void)params;
    err = ENOSYS;
#endif
    close(fd);
    if (err != 0) {
        mp_raise_OSError(err);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(bootsys_finit_module_obj, bootsys_finit_module);

struct mapping {
    void *addr;
    size_t len;
};

static void unmap_all(struct mapping *maps, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (maps[i].addr != NULL) {
            munmap(maps[i].addr, maps[i].len);
        }
    }
}

static mp_obj_t bootsys_kexec_load(mp_obj_t entry_in, mp_obj_t segments_in, mp_obj_t flags_in) {
    /* First every argument converted and checked (anything that can raise),
     * then the files opened and mapped (nothing raises until all is undone). */
    size_t n;
    mp_obj_t *items;
    mp_obj_get_array(segments_in, &n, &items);
    if (n == 0 || n > MAX_SEGMENTS) {
        mp_raise_ValueError(MP_ERROR_TEXT("kexec_load: 1 to 16 segments"));
    }
    unsigned long entry = (unsigned long)mp_obj_get_int_truncated(entry_in);
    unsigned long flags = (unsigned long)mp_obj_get_int_truncated(flags_in);
    struct kexec_segment_raw segs[MAX_SEGMENTS];
    const char *paths[MAX_SEGMENTS];
    mp_int_t offsets[MAX_SEGMENTS];
    for (size_t i = 0; i < n; i++) {
        size_t len;
        mp_obj_t *seg;
        mp_obj_get_array(items[i], &len, &seg);
        if (len != 5) {
            mp_raise_ValueError(MP_ERROR_TEXT("kexec_load: (source, offset, length, mem, memsz)"));
        }
        mp_int_t offset = mp_obj_get_int(seg[1]);
        mp_int_t length = mp_obj_get_int(seg[2]);
        if (offset < 0 || length < 0) {
            mp_raise_ValueError(MP_ERROR_TEXT("kexec_load: negative offset or length"));
        }
        segs[i].mem = (const void *)(uintptr_t)mp_obj_get_int_truncated(seg[3]);
        segs[i].memsz = (size_t)mp_obj_get_int_truncated(seg[4]);
        segs[i].bufsz = (size_t)length;
        segs[i].buf = NULL;
        offsets[i] = offset;
        paths[i] = NULL;
        if (mp_obj_is_str(seg[0])) {
            paths[i] = mp_obj_str_get_str(seg[0]);
        } else {
            mp_buffer_info_t b;
            mp_get_buffer_raise(seg[0], &b, MP_BUFFER_READ);
            if ((size_t)offset > b.len || (size_t)length > b.len - (size_t)offset) {
                mp_raise_ValueError(MP_ERROR_TEXT("kexec_load: segment past its buffer"));
            }
            segs[i].buf = (const char *)b.buf + offset;
        }
    }
    struct mapping maps[MAX_SEGMENTS];
    size_t mapped = 0;
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) {
        page = 4096;
    }
    int err = 0;
    for (size_t i = 0; i < n && err == 0; i++) {
        if (paths[i] == NULL) {
            continue;
        }
        int fd = open(paths[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            err = errno;
            break;
        }
        struct stat st;
        if (fstat(fd, &st) != 0) {
            err = errno;
        } else if ((off_t)offsets[i] > st.st_size || (off_t)segs[i].bufsz > st.st_size - (off_t)offsets[i]) {
            err = EINVAL;           /* the file is shorter than the segment */
        } else if (segs[i].bufsz > 0) {
            size_t skew = (size_t)offsets[i] % (size_t)page;
            size_t maplen = skew + segs[i].bufsz;
            void *addr = mmap(NULL, maplen, PROT_READ, MAP_PRIVATE, fd, (off_t)((size_t)offsets[i] - skew));
            if (addr == MAP_FAILED) {
                err = errno;
            } else {
                maps[mapped].addr = addr;
                maps[mapped].len = maplen;
                mapped++;
                segs[i].buf = (const char *)addr + skew;
            }
        }
        close(fd);
    }
    if (err == 0) {
#if BOOTSYS_LIVE && defined(SYS_kexec_load)
        if (syscall(SYS_kexec_load, entry, (unsigned long)n, segs, flags) != 0) {
            err = errno;
        }
#else
        (void)entry;
        (void)flags;
        err = ENOSYS;
#endif
    }
    unmap_all(maps, mapped);
    if (err != 0) {
        mp_raise_OSError(err);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_3(bootsys_kexec_load_obj, bootsys_kexec_load);

static mp_obj_t bootsys_kexec_file_load(size_t n_args, const mp_obj_t *args) {
    const char *kernel = mp_obj_str_get_str(args[0]);
    const char *initrd = args[1] == mp_const_none ? NULL : mp_obj_str_get_str(args[1]);
    size_t cmdlen;
    const char *cmdline = mp_obj_str_get_data(args[2], &cmdlen);
    unsigned long flags = (unsigned long)mp_obj_get_int_truncated(args[3]);
    int kfd = open(kernel, O_RDONLY | O_CLOEXEC);
    if (kfd < 0) {
        mp_raise_OSError(errno);
    }
    int ifd = -1;
    if (initrd != NULL) {
        ifd = open(initrd, O_RDONLY | O_CLOEXEC);
        if (ifd < 0) {
            int err = errno;
            close(kfd);
            mp_raise_OSError(err);
        }
    }
    int err = 0;
#if BOOTSYS_LIVE && defined(SYS_kexec_file_load)
    /* The length counts the terminating NUL, as the system call wants. */
    if (syscall(SYS_kexec_file_load, kfd, ifd, (unsigned long)cmdlen + 1, cmdline, flags) != 0) {
        err = errno;
    }
#else
    (void)cmdline;
    (void)cmdlen;
    (void)flags;
    err = ENOSYS;
#endif
    close(kfd);
    if (ifd >= 0) {
        close(ifd);
    }
    if (err != 0) {
        mp_raise_OSError(err);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(bootsys_kexec_file_load_obj, 4, 4, bootsys_kexec_file_load);

static mp_obj_t bootsys_reboot(mp_obj_t cmd_in) {
    unsigned long cmd = (unsigned long)mp_obj_get_int_truncated(cmd_in);
    REFUSE_OFF_S390();
    /* LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2 */
    if (syscall(SYS_reboot, 0xfee1deadUL, 672274793UL, cmd, NULL) != 0) {
        mp_raise_OSError(errno);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(bootsys_reboot_obj, bootsys_reboot);

static mp_obj_t bootsys_sync(void) {
    sync();
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_0(bootsys_sync_obj, bootsys_sync);

/* packager.build.has_bootsys looks for this text in an interpreter: the
 * function names alone are also in the frozen agent's code. */
static const MP_DEFINE_STR_OBJ(bootsys_version_obj, "s390-netboot bootsys 1");

static const mp_rom_map_elem_t bootsys_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_bootsys) },
    { MP_ROM_QSTR(MP_QSTR_version), MP_ROM_PTR(&bootsys_version_obj) },
    { MP_ROM_QSTR(MP_QSTR_mount), MP_ROM_PTR(&bootsys_mount_obj) },
    { MP_ROM_QSTR(MP_QSTR_finit_module), MP_ROM_PTR(&bootsys_finit_module_obj) },
    { MP_ROM_QSTR(MP_QSTR_kexec_load), MP_ROM_PTR(&bootsys_kexec_load_obj) },
    { MP_ROM_QSTR(MP_QSTR_kexec_file_load), MP_ROM_PTR(&bootsys_kexec_file_load_obj) },
    { MP_ROM_QSTR(MP_QSTR_reboot), MP_ROM_PTR(&bootsys_reboot_obj) },
    { MP_ROM_QSTR(MP_QSTR_sync), MP_ROM_PTR(&bootsys_sync_obj) },
};
static MP_DEFINE_CONST_DICT(bootsys_globals, bootsys_globals_table);

const mp_obj_module_t bootsys_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&bootsys_globals,
};

MP_REGISTER_MODULE(MP_QSTR_bootsys, bootsys_module);
