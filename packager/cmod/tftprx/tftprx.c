/* tftprx: the hot loop of a TFTP read, in C, for the agent's MicroPython.
 *
 * blocks(fd, peer, buf, pos, last, blksize, window, since_ack, room,
 *        wait_ms, budget_ms, srtt, rttvar, rto, rto_min, rto_cap)
 *
 * Receives DATA blocks on the UDP socket fd for as long as each one is the
 * plain case: from the transfer's peer (a raw sockaddr, as MicroPython's
 * recvfrom gives it), opcode 3, the next block number, exactly blksize
 * bytes, room for it in buf and under the size limit (room, -1 for none).
 * The payload lands in buf at pos (scatter read, no copy); every window-th
 * block is acknowledged to the peer, and the round trip from each ACK to the
 * block answering it updates the retransmission timer (RFC 6298's
 * estimator in milliseconds, as agent.tftp.Rto.sample: srtt -1 for none
 * yet, the result clamped to rto_min..rto_cap). Anything else -- a short (last) block,
 * a duplicate, a block from the future, an OACK, an ERROR, a stranger, a
 * runt, an oversized block -- is handed back untouched for agent/tftp.py's
 * Receiver to judge: the protocol rules stay in Python, this loop only skips
 * the interpreter for the blocks where nothing needs deciding.
 *
 * Returns (status, pos, last, blocks, since_ack, ack_age, pending_age,
 *          quiet, first_age, srtt, rttvar, rto, packet, addr):
 *   status  0 BUDGET: budget_ms passed since the call (after a block);
 *           1 FULL: buf cannot take another block at pos;
 *           2 PACKET: packet and addr (bytes) are a datagram for Python;
 *           3 TIMEOUT: nothing arrived for wait_ms (first) / rto (after
 *             a block);
 *   blocks  blocks taken here; pos, last, since_ack the state after them;
 *   ack_age ms since the last ACK sent here (-1: none);
 *   pending_age ms since the last ACK sent here if no block answered it yet
 *           (-1: none) -- the retransmission timer's start;
 *   quiet   ms since the last block taken (or since the call);
 *   first_age ms since the first block taken here (-1: none): what answered
 *           a request Python sent before the call;
 *   srtt, rttvar, rto  the timer's state after this call's samples.
 * Socket errors raise OSError, as recvfrom/sendto do.
 */

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "py/mphal.h"
#include "py/runtime.h"

#define ST_BUDGET 0
#define ST_FULL 1
#define ST_PACKET 2
#define ST_TIMEOUT 3

static mp_obj_t result(int status, mp_int_t pos, mp_int_t last, mp_int_t blocks, mp_int_t since_ack,
                       mp_int_t ack_age, mp_int_t pending_age, mp_int_t quiet, mp_int_t first_age,
                       const mp_int_t *timer, mp_obj_t packet, mp_obj_t addr) {
    mp_obj_t items[14] = {
        MP_OBJ_NEW_SMALL_INT(status), mp_obj_new_int(pos), MP_OBJ_NEW_SMALL_INT(last),
        mp_obj_new_int(blocks), mp_obj_new_int(since_ack), mp_obj_new_int(ack_age),
        mp_obj_new_int(pending_age), mp_obj_new_int(quiet), mp_obj_new_int(first_age), mp_obj_new_int(timer[0]),
        mp_obj_new_int(timer[1]), mp_obj_new_int(timer[2]), packet, addr,
    };
    return mp_obj_new_tuple(14, items);
}

/* One round trip into the estimator: agent.tftp.Rto.sample, the same integers. */
static void sample(mp_int_t *timer, mp_int_t ms, mp_int_t rto_min, mp_int_t rto_cap) {
    if (ms < 0) {
        ms = 0;
    }
    if (timer[0] < 0) {
        timer[0] = ms;
        timer[1] = ms / 2;
    } else {
        mp_int_t diff = timer[0] - ms;
        timer[1] = (3 * timer[1] + (diff > 0 ? diff : -diff)) / 4;
        timer[0] = (7 * timer[0] + ms) / 8;
    }
    mp_int_t rto = timer[0] + 4 * timer[1];
    if (rto > rto_cap) {
        rto = rto_cap;
    }
    timer[2] = rto > rto_min ? rto : rto_min;
}

static mp_obj_t tftprx_blocks(size_t n_args, const mp_obj_t *args) {
    int fd = mp_obj_get_int(args[0]);
    mp_buffer_info_t peer, out;
    mp_get_buffer_raise(args[1], &peer, MP_BUFFER_READ);
    mp_get_buffer_raise(args[2], &out, MP_BUFFER_WRITE);
    mp_int_t pos = mp_obj_get_int(args[3]);
    mp_int_t last = mp_obj_get_int(args[4]) & 0xFFFF;
    mp_int_t blksize = mp_obj_get_int(args[5]);
    mp_int_t window = mp_obj_get_int(args[6]);
    mp_int_t since_ack = mp_obj_get_int(args[7]);
    mp_int_t room = mp_obj_get_int(args[8]);
    mp_int_t wait = mp_obj_get_int(args[9]);
    mp_int_t budget = mp_obj_get_int(args[10]);
    /* srtt, rttvar, rto */
    mp_int_t timer[3] = {mp_obj_get_int(args[11]), mp_obj_get_int(args[12]), mp_obj_get_int(args[13])};
    mp_int_t rto_min = mp_obj_get_int(args[14]);
    mp_int_t rto_cap = mp_obj_get_int(args[15]);
    if (pos < 0 || (size_t)pos > out.len || blksize < 8 || window < 1 || peer.len > sizeof(struct sockaddr_storage)) {
        mp_raise_ValueError(MP_ERROR_TEXT("tftprx: bad arguments"));
    }
    mp_uint_t start = mp_hal_ticks_ms(), now = start, mark = start, first = start, ack_at = 0;
    mp_int_t blocks = 0;
    int acked = 0, pending = 0;
    unsigned char hdr[4] = {0}, ack[4];
    struct sockaddr_storage from;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int status;
    mp_obj_t packet = mp_const_none, addr = mp_const_none;

    for (;;) {
        if ((size_t)pos + blksize + 1 > out.len) {
            status = ST_FULL;
            break;
        }
        if (blocks && (mp_int_t)(now - start) >= budget) {
            status = ST_BUDGET;
            break;
        }
        int timeout = (int)(blocks ? timer[2] : wait);
        if (timeout < 1) {
            timeout = 1;
        }
        int ready;
        MP_HAL_RETRY_SYSCALL(ready, poll(&pfd, 1, timeout), mp_raise_OSError(err));
        now = mp_hal_ticks_ms();
        if (ready == 0) {
            status = ST_TIMEOUT;
            break;
        }
        /* Header apart, payload straight into buf; one byte more than a
         * block, to notice an oversized one (the same bound as the Python
         * loop's recvfrom(blksize + 5)). */
        struct iovec iov[2] = {
            {.iov_base = hdr, .iov_len = 4},
            {.iov_base = (unsigned char *)out.buf + pos, .iov_len = blksize + 1},
        };
        struct msghdr msg = {
            .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = iov, .msg_iovlen = 2,
        };
        ssize_t n;
        MP_HAL_RETRY_SYSCALL(n, recvmsg(fd, &msg, 0), mp_raise_OSError(err));
        now = mp_hal_ticks_ms();
        mp_int_t block = (hdr[2] << 8) | hdr[3];
        if (n == blksize + 4 && hdr[0] == 0 && hdr[1] == 3 && block == ((last + 1) & 0xFFFF)
            && (room < 0 || blksize <= room)
            && msg.msg_namelen == peer.len && memcmp(&from, peer.buf, peer.len) == 0) {
            pos += blksize;
            if (room >= 0) {
                room -= blksize;
            }
            last = block;
            blocks++;
            since_ack++;
            mark = now;
            if (blocks == 1) {
                first = now;
            }
            if (pending) {
                sample(timer, (mp_int_t)(now - ack_at), rto_min, rto_cap);
                pending = 0;
            }
            if (since_ack >= window) {
                ack[0] = 0;
                ack[1] = 4;
                ack[2] = (unsigned char)(last >> 8);
                ack[3] = (unsigned char)last;
                ssize_t sent;
                MP_HAL_RETRY_SYSCALL(sent, sendto(fd, ack, 4, 0, (const struct sockaddr *)peer.buf, peer.len),
                    mp_raise_OSError(err));
                (void)sent;
                since_ack = 0;
                ack_at = now;
                acked = 1;
                pending = 1;
            }
            continue;
        }
        /* Not the plain case: the datagram, as recvfrom would have given it. */
        vstr_t v;
        vstr_init_len(&v, (size_t)n);
        memcpy(v.buf, hdr, n < 4 ? (size_t)n : 4);
        if (n > 4) {
            memcpy(v.buf + 4, (unsigned char *)out.buf + pos, (size_t)n - 4);
        }
        packet = mp_obj_new_bytes_from_vstr(&v);
        addr = mp_obj_new_bytes((const byte *)&from, msg.msg_namelen);
        status = ST_PACKET;
        break;
    }
    return result(status, pos, last, blocks, since_ack,
                  acked ? (mp_int_t)(now - ack_at) : -1,
                  pending ? (mp_int_t)(now - ack_at) : -1,
                  (mp_int_t)(now - mark), blocks ? (mp_int_t)(now - first) : -1, timer, packet, addr);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(tftprx_blocks_obj, 16, 16, tftprx_blocks);

static const mp_rom_map_elem_t tftprx_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_tftprx) },
    { MP_ROM_QSTR(MP_QSTR_blocks), MP_ROM_PTR(&tftprx_blocks_obj) },
};
static MP_DEFINE_CONST_DICT(tftprx_globals, tftprx_globals_table);

const mp_obj_module_t tftprx_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&tftprx_globals,
};

MP_REGISTER_MODULE(MP_QSTR_tftprx, tftprx_module);
