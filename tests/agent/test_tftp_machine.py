"""The TFTP packet codec and receive state machine, fed packets by hand
(runs under CPython and MicroPython)."""

from agent import tftp as T
from agent.fetch import FetchError, MemorySink, NotFound


def rx(opts=None, max_size=None):
    sink = MemorySink()
    return T.Receiver(sink, dict(opts or {}), max_size), sink


def data(block, payload):
    return T.encode_data(block, payload)


def test_codec_round_trip():
    rrq = T.encode_rrq("a/b", [("blksize", 1468), ("tsize", 0)])
    assert T.decode(rrq) == (T.RRQ, ("a/b", "octet", {"blksize": "1468", "tsize": "0"}))
    assert T.decode(T.encode_ack(65536 + 5)) == (T.ACK, 5)
    assert T.decode(T.encode_error(1, "File not found")) == (T.ERROR, (1, "File not found"))
    assert T.decode(T.encode_oack([("BLKSIZE", 1024)])) == (T.OACK, {"blksize": "1024"})
    for bad in (b"", b"\x00", b"\x00\x03\x00", b"\x00\x09abc", b"\x00\x06blksize\x00"):
        try:
            T.decode(bad)
        except T.ProtocolError:
            pass
        else:
            assert False, "decode(%r) did not fail" % bad


def test_plain_data_answer_means_no_options():
    r, sink = rx({"blksize": "1468", "windowsize": "16"})
    assert r.feed(data(1, b"x" * 512)) == [T.encode_ack(1)]
    assert r.blksize == 512 and r.windowsize == 1 and r.options == {}
    # windowsize 1: every block is acknowledged
    r2, _ = rx()
    assert r2.feed(data(1, b"x" * 512)) == [T.encode_ack(1)]
    assert r2.feed(data(2, b"end")) == [T.encode_ack(2)] and r2.done and r2.size == 515


def test_oack_subset_and_window():
    r, sink = rx({"blksize": "1468", "tsize": "0", "windowsize": "4"})
    assert r.feed(T.encode_oack([("blksize", 1024), ("tsize", 3000)])) == [T.encode_ack(0)]
    assert (r.blksize, r.windowsize, r.tsize) == (1024, 1, 3000)
    r, sink = rx({"blksize": "8", "windowsize": "4"})
    r.feed(T.encode_oack([("blksize", 8), ("windowsize", 3)]))
    out = []
    for b in range(1, 7):
        out.append(r.feed(data(b, b"%08d" % b)))
    assert out == [[], [], [T.encode_ack(3)], [], [], [T.encode_ack(6)]], out
    assert r.feed(data(7, b"")) == [T.encode_ack(7)] and r.done
    assert sink.getvalue() == b"".join(b"%08d" % b for b in range(1, 7))


def test_oack_outside_request_is_refused():
    for opts, oack in (({"blksize": "512"}, [("blksize", 1024)]),
                       ({"blksize": "512"}, [("windowsize", 4)]),
                       ({"windowsize": "4"}, [("windowsize", 0)])):
        r, _ = rx(opts)
        try:
            r.feed(T.encode_oack(oack))
        except T.ProtocolError as e:
            assert "OACK" in str(e)
        else:
            assert False, "accepted %r for %r" % (oack, opts)


def test_errors():
    r, _ = rx()
    try:
        r.feed(T.encode_error(1, "File not found"))
    except NotFound:
        pass
    else:
        assert False
    r, _ = rx({"blksize": "1468"})
    try:
        r.feed(T.encode_error(8, "no options"))
    except T.OptionsRefused:
        pass
    else:
        assert False
    # Any other ERROR in answer to the request: the file cannot be had, which
    # PXELINUX treats as not found (the config search goes on); after the
    # first block it is a failed transfer.
    for code in (0, 2, 4):
        r, _ = rx()
        try:
            r.feed(T.encode_error(code, "Access violation"))
        except NotFound as e:
            assert str(e) == "server error %d: Access violation" % code, str(e)
        else:
            assert False, "ERROR %d" % code
    r, _ = rx()
    r.feed(data(1, b"x" * 512))
    try:
        r.feed(T.encode_error(2, "Access violation"))
    except FetchError as e:
        assert str(e) == "server error 2 after 1 blocks: Access violation" and not isinstance(e, NotFound), str(e)
    else:
        assert False


def test_error_text_is_cleaned_and_bounded():
    for text, want in (("\x1b[2J\x1b]0;pwned\x07gone", "?[2J?]0;pwned?gone"),
                       ("a\r\nb", "a??b"),
                       ("x" * 60000, "x" * 160 + "...")):
        r, _ = rx()
        try:
            r.feed(T.encode_error(0, text))
        except NotFound as e:
            assert str(e) == "server error 0: " + want, "feed(ERROR %r...) = %r, want %r" % (text[:20], str(e)[:60], want)
        else:
            assert False


def test_out_of_order_and_duplicates_in_a_window():
    r, sink = rx({"blksize": "8", "windowsize": "4"})
    r.feed(T.encode_oack([("blksize", 8), ("windowsize", 4)]), 0)
    assert r.feed(data(1, b"aaaaaaaa"), 1) == []
    # block 2 lost: 3 arrives -> one ACK of 1; 4 arrives -> nothing more
    assert r.feed(data(3, b"cccccccc"), 2) == [T.encode_ack(1)]
    assert r.feed(data(4, b"dddddddd"), 3) == []
    # the server resends from 2; a network duplicate of 2 right after is ignored
    assert r.feed(data(2, b"bbbbbbbb"), 10) == []
    assert r.feed(data(2, b"bbbbbbbb"), 11) == []
    assert r.feed(data(3, b"cccccccc"), 12) == []
    # the window counts from the last ACK (of 1): 2, 3, 4 are three of four
    assert r.feed(data(4, b"dddddddd"), 13) == []
    # a duplicate a few ms later: not answered (no amplification)
    assert r.feed(data(4, b"dddddddd"), 20) == []
    # ...but the same block long after our ACK means the ACK was lost: answer once
    assert r.feed(data(4, b"dddddddd"), 1000) == [T.encode_ack(4)]
    assert r.feed(data(5, b"e"), 1001) == [T.encode_ack(5)] and r.done
    assert sink.getvalue() == b"aaaaaaaabbbbbbbbccccccccdddddddde"
    assert r.out_of_order == 2 and r.duplicates >= 3


class CountingSink:
    def __init__(self):
        self.n = 0

    def write(self, b):
        self.n += len(b)


def test_block_number_rollover():
    sink = CountingSink()
    r = T.Receiver(sink, {"blksize": "8", "windowsize": "16"})
    r.feed(T.encode_oack([("blksize", 8), ("windowsize", 16)]))
    acks = 0
    for n in range(1, 65536 + 20):
        out = r.feed(data(n & 0xFFFF, b"12345678"))
        acks += len(out)
    out = r.feed(data((65536 + 20) & 0xFFFF, b"x"))
    assert r.done and r.size == (65536 + 19) * 8 + 1 == sink.n, r.size
    assert out == [T.encode_ack(20)]
    assert r.duplicates == 0 and r.out_of_order == 0


def test_tsize_checked_and_space_refused():
    r, _ = rx({"tsize": "0", "blksize": "512"})
    r.feed(T.encode_oack([("tsize", 1000)]))
    try:
        r.feed(data(1, b"short"))
    except FetchError as e:
        assert "tsize" in str(e) and "1000" in str(e), str(e)
    else:
        assert False
    r, _ = rx({"tsize": "0"}, max_size=999)
    try:
        r.feed(T.encode_oack([("tsize", 1000)]))
    except T.TooLarge as e:
        assert "1000 bytes" in str(e)
    else:
        assert False
    r, _ = rx(max_size=600)
    r.feed(data(1, b"x" * 512))
    try:
        r.feed(data(2, b"x" * 512))
    except T.TooLarge:
        pass
    else:
        assert False


def test_timeout_packet():
    r, _ = rx({"blksize": "8", "windowsize": "4"})
    assert r.timeout_packet() is None  # resend the request
    r.feed(T.encode_oack([("blksize", 8), ("windowsize", 4)]))
    assert r.timeout_packet() == T.encode_ack(0)
    r.feed(data(1, b"12345678"))
    assert r.timeout_packet() == T.encode_ack(1)


def test_rto_estimator():
    rto = T.Rto(1000)
    assert rto.rto == 1000
    for t in range(10):
        rto.sent(t * 100)
        rto.received(t * 100 + 10)
    assert rto.rto == 200, rto.rto  # floor
    rto.sent(5000)
    assert rto.backoff() == 400
    rto.received(9000)  # Karn: no sample from a retransmitted exchange
    assert rto.rto == 400
    for _ in range(10):
        rto.backoff()
    assert rto.rto == 8000


def test_mtu_blksize():
    assert T.blksize_for_mtu(1500) == 1468
    assert T.blksize_for_mtu(9000) == 8968
    assert T.blksize_for_mtu(65536) == 65464


def test_requested_options_fit_the_receive_buffer():
    cases = [(1468, 16, [("blksize", 1468), ("tsize", 0), ("windowsize", 16), ("timeout", 1)]),
             (8968, 16, [("blksize", 8968), ("tsize", 0), ("windowsize", 10), ("timeout", 1)]),
             (65464, 16, [("blksize", 65464), ("tsize", 0), ("timeout", 1)]),
             (1468, 1, [("blksize", 1468), ("tsize", 0), ("timeout", 1)])]
    for blksize, window, want in cases:
        got = T.TftpFetcher(blksize=blksize, windowsize=window)._options(None)
        assert got == want, "_options(blksize=%d, window=%d) = %r, want %r" % (blksize, window, got, want)
    got = T.TftpFetcher(mtu_of=lambda a: 9000)._options(None)
    assert got[0] == ("blksize", 8968), got


def test_batching_sink():
    from agent.fetch import BatchingSink

    class F:
        def __init__(self):
            self.writes = []

        def write(self, b):
            self.writes.append(bytes(b))  # a view of the sink's buffer, as a file consumes it

    f = F()
    s = BatchingSink(f)
    for i in range(100):
        s.write(b"%04d" % i * 367)  # 1468 bytes
    s.flush()
    assert b"".join(f.writes) == b"".join(b"%04d" % i * 367 for i in range(100))
    assert len(f.writes) == 3, [len(w) for w in f.writes]  # 64 KiB, 64 KiB, the rest


def test_hostile_oack_values_are_one_line():
    for oack, want in (([("tsize", -5)], "bad OACK: server announced a negative tsize -5"),
                       ([("blksize", "\x1b[2J")], "bad OACK: invalid syntax for integer with base 10: '?[2J'")):
        r, _ = rx({"blksize": "1468", "tsize": "0"})
        try:
            r.feed(T.encode_oack(oack))
        except T.ProtocolError as e:
            assert str(e) == want or (oack[0][0] == "blksize" and str(e).startswith("bad OACK: ")
                                      and "\x1b" not in str(e)), str(e)
        else:
            assert False, oack
