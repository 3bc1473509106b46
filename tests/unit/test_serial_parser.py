"""The serial line parser (docs/sensors.md), the clock map, and the physio.csv replay reader."""

from __future__ import annotations

import functools
import math
import random
import re

import pytest

from edge.config import SerialConfig
from edge.sources.physio_replay import read_physio_csv
from edge.sources.recording import RecordingError
from edge.sources.serial import SerialSource
from edge.sources.serial_lines import ClockMap, PhysioSample, SerialParser


def checksum(payload: str) -> str:
    return "%02X" % functools.reduce(lambda a, b: a ^ b, payload.encode(), 0)


def signed(payload: str) -> str:
    return f"{payload}*{checksum(payload)}"


def balanced(p: SerialParser) -> bool:
    return p.lines == p.samples + p.bad_lines + p.checksum_failures + p.leads_off


def csv_parser(max_line_bytes: int = 256) -> SerialParser:
    return SerialParser("csv", 250.0, max_line_bytes)


# -- csv protocol ----------------------------------------------------------------------------------------------


def test_csv_happy_path():
    p = csv_parser()
    out = p.feed(b"0,1000,0.512,312\n1,1004,-0.25,313.5\n2,1008,1e-2,314\n")
    assert out == [
        PhysioSample(1.0, 0.512, 312.0, 0, False),
        PhysioSample(1.004, -0.25, 313.5, 1, False),
        PhysioSample(1.008, 0.01, 314.0, 2, False),
    ]
    assert (p.lines, p.samples, p.bad_lines, p.checksum_failures, p.gaps, p.leads_off) == (3, 3, 0, 0, 0, 0)


def test_csv_missing_channel_and_leads_off():
    p = csv_parser()
    out = p.feed(b"0,0,,300\n1,4,0.5,\n2,8,!,301\n")
    assert [(s.ecg, s.gsr, s.leads_off) for s in out] == [(None, 300.0, False), (0.5, None, False), (None, 301.0, True)]
    assert p.samples == 3 and p.bad_lines == 0
    p.feed(b"3,12,,\n")  # no channel at all
    assert p.bad_lines == 1 and balanced(p)


def test_crlf_and_blank_lines():
    p = csv_parser()
    out = p.feed(b"0,0,1,2\r\n\r\n1,4,1,2\r\n\n \t\r\n")  # whitespace-only lines are blank too
    assert [s.seq for s in out] == [0, 1]
    assert p.lines == 2 and p.bad_lines == 0


def test_partial_lines_across_feeds():
    p = csv_parser()
    data = b"0,1000,0.5,300\r\n1,1004,0.6,301\r\n" + signed("2,1008,0.7,302").encode() + b"\r\n"
    got = []
    for i in range(len(data)):  # one byte at a time
        got += p.feed(data[i : i + 1])
    assert [(s.seq, s.ecg) for s in got] == [(0, 0.5), (1, 0.6), (2, 0.7)]
    assert p.feed(b"3,1012,0.8") == [] and p.lines == 3
    assert p.feed(b",303\n")[0].gsr == 303.0


@pytest.mark.parametrize(
    "line",
    [
        b"garbage",
        b"1,2,3",  # too few fields
        b"1,2,3,4,5",  # too many fields
        b"a,2,3,4",  # seq not a number
        b"1.5,2,3,4",  # seq not an integer
        b"65536,2,3,4",  # seq out of range
        b"-1,2,3,4",
        b"1,x,3,4",  # t_ms not a number
        b"1,-5,3,4",  # t_ms negative
        b"1,2,abc,4",
        b"1,2,3,4x",
        b"1,2,nan,4",  # non-finite
        b"1,2,3,inf",
        b"1,2,-Infinity,4",
        b"1,2,1e999,4",  # overflows to inf
        b"1,2,1_0,4",  # Python float() would take it; the protocol does not
        b"1,2,0x1F,4",
        b"1,2,\xc3\xa9,4",  # UTF-8, not ASCII
        b"1,2,\xff\xfe,4",  # not even UTF-8
        b"1,2,3\x00,4",
        b"1,2,3,4*",  # malformed checksum suffix
        b"1,2,3,4*G1",
        b"1,2,3,4*123",
        b"1,2,3,4*1",
    ],
)
def test_bad_lines(line: bytes):
    p = csv_parser()
    assert p.feed(line + b"\n") == []
    assert (p.lines, p.bad_lines, p.samples, p.checksum_failures) == (1, 1, 0, 0)
    assert p.feed(b"7,28,1,2\n")[0].seq == 7  # and the next line is fine


def test_too_long_lines_are_bad_and_do_not_grow_the_buffer():
    p = csv_parser(max_line_bytes=32)
    ok = b"1,4,0.5,300"
    assert p.feed(b"0,0," + b"1" * 40 + b",3\n") == []
    for _ in range(1000):  # a line of 100 kB with no newline, in pieces
        p.feed(b"9" * 100)
        assert len(p._split._buf) <= 33
    assert p.feed(b"\n" + ok + b"\n")[0].seq == 1
    assert (p.lines, p.bad_lines, p.samples) == (3, 2, 1)
    exactly = b"1,4,0.5," + b"3" * 24  # 32 bytes: still allowed, with or without CR
    assert len(exactly) == 32 and len(p.feed(exactly + b"\r\n")) == 1


def test_checksum_pass_and_fail():
    p = csv_parser()
    good = signed("5,20,0.5,300")
    assert p.feed(good.encode() + b"\n")[0].seq == 5
    assert p.feed(good.lower().encode() + b"\n")  # hex digits in either case
    wrong = good[:-2] + ("00" if good[-2:] != "00" else "01")
    assert p.feed(wrong.encode() + b"\n") == []
    assert p.feed(signed("6,24,0.5,300").replace("0.5", "0.6").encode() + b"\n") == []  # a flipped digit
    assert (p.samples, p.checksum_failures, p.bad_lines) == (2, 2, 0)
    # NMEA style: XOR of every byte before '*'
    assert checksum("1,2,3,4") == "%02X" % (ord("1") ^ ord(",") ^ ord("2") ^ ord(",") ^ ord("3") ^ ord(",") ^ ord("4"))
    assert balanced(p)


def test_seq_gaps_and_wrap():
    p = csv_parser()
    lines = [f"{seq},{i * 4},0.1,1\n" for i, seq in enumerate([65533, 65534, 65535, 0, 1, 3, 65535 - 65535 + 7])]
    p.feed("".join(lines).encode())
    assert p.gaps == 1 + 3  # 2 missing, then 4, 5, 6 missing
    assert p.seq_resets == 0
    p.feed(b"8,40,0.1,1\n65535,44,0.1,1\n65535,48,0.1,1\n0,52,0.1,1\n")  # 9..65534: a backward jump; a repeat
    assert p.gaps == 4 and p.seq_resets == 2
    wrapped = csv_parser()
    wrapped.feed(b"65530,0,1,1\n2,4,1,1\n")  # 65531..65535, 0, 1 missing across the wrap
    assert wrapped.gaps == 7 and wrapped.seq_resets == 0


def test_lost_lines_count_as_gaps():
    p = csv_parser()
    p.feed(b"0,0,1,1\n1,4,1,1*00\n2,8,xx,1\n3,12,1,1\n")
    assert (p.samples, p.checksum_failures, p.bad_lines, p.gaps) == (2, 1, 1, 2)


def test_reset_forgets_partial_line_and_seq():
    p = csv_parser()
    p.feed(b"0,0,1,1\n1,4,1")
    p.reset()
    out = p.feed(b"40,160,1,1\n")
    assert [s.seq for s in out] == [40] and p.gaps == 0 and p.bad_lines == 0


# -- "ecg" protocol --------------------------------------------------------------------------------------------


def test_ecg_protocol():
    p = SerialParser("ecg", 250.0, 64)
    out = p.feed(b"512\r\n-0.25\n!\nnope\n600\n")
    assert [(s.t, s.ecg, s.leads_off) for s in out] == [
        (0.0, 512.0, False),
        (0.004, -0.25, False),
        (0.008, None, True),
        (0.016, 600.0, False),  # the bad line took one sample slot
    ]
    assert (p.lines, p.samples, p.leads_off, p.bad_lines) == (5, 3, 1, 1)
    assert all(s.gsr is None and s.seq is None for s in out)
    assert p.feed(b"1,2,3,4\n") == [] and p.bad_lines == 2  # a csv line is not an ecg value
    assert p.feed(b"nan\n") == [] and p.bad_lines == 3


# -- never raises, counters add up -----------------------------------------------------------------------------


def test_feed_takes_any_bytes_like_and_survives_others():
    p = csv_parser()
    assert p.feed(bytearray(b"0,0,1,1\n"))[0].seq == 0
    assert p.feed(memoryview(b"1,4,1,1\n"))[0].seq == 1
    assert p.feed(None) == []  # type: ignore[arg-type]
    assert p.feed("2,8,1,1\n") == []  # type: ignore[arg-type] # str is not bytes
    assert p.feed(b"") == []


def _fuzz_line(rng: random.Random, seq: int) -> bytes:
    kind = rng.randrange(10)
    payload = f"{seq % 65536},{seq * 4},{rng.uniform(-2, 2):.4f},{rng.uniform(0, 1023):.1f}"
    if kind == 0:
        return payload.encode()
    if kind == 1:
        return signed(payload).encode()
    if kind == 2:
        return (payload + "*" + "%02X" % rng.randrange(256)).encode()  # mostly wrong checksums
    if kind == 3:
        return payload.encode()[: rng.randrange(len(payload))]  # truncated
    if kind == 4:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80)))  # random bytes, newlines included
    if kind == 5:
        return bytes(rng.choice(b"0123456789,.*-+eE!\r \t") for _ in range(rng.randrange(1, 40)))
    if kind == 6:
        return rng.choice([b"x", b"7", b",", b"9"]) * rng.randrange(200, 5000)  # huge
    if kind == 7:
        bad = rng.choice(["nan", "inf", "-inf", "NaN", "1e400", "Infinity"])
        return f"{seq % 65536},{seq * 4},{bad},1".encode()
    if kind == 8:
        garbled = bytearray(signed(payload).encode())
        garbled[rng.randrange(len(garbled))] = rng.randrange(256)  # one byte flipped
        return bytes(garbled)
    return rng.choice([b"!", b"", b"\r", b"512", b"-0.5", b"1,2,3,4*ZZ"])


@pytest.mark.parametrize("protocol", ["csv", "ecg"])
def test_fuzz_100k_lines(protocol: str):
    rng = random.Random(8 if protocol == "csv" else 9)
    p = SerialParser(protocol, 250.0, 256)  # type: ignore[arg-type]
    stream = b"\n".join(_fuzz_line(rng, i) for i in range(100_000)) + b"\n"
    returned = 0
    pos = 0
    while pos < len(stream):  # random read sizes, as a port delivers them
        size = rng.choice([1, 2, 7, 64, 512, 4096])
        out = p.feed(stream[pos : pos + size])
        pos += size
        returned += len(out)
        for s in out:
            assert isinstance(s, PhysioSample) and math.isfinite(s.t)
            assert s.ecg is None or math.isfinite(s.ecg)
            assert s.gsr is None or math.isfinite(s.gsr)
    assert p.lines >= 90_000  # blank lines are not counted; random bytes add a few newlines
    assert p.lines == p.samples + p.bad_lines + p.checksum_failures + p.leads_off
    assert returned == p.samples + p.leads_off
    if protocol == "csv":
        assert p.samples > 20_000 and p.bad_lines > 20_000 and p.checksum_failures > 5_000 and p.gaps > 0
    else:
        assert p.samples > 2_000 and p.bad_lines > 50_000 and p.leads_off > 1_000 and p.checksum_failures == 0
    assert len(p._split._buf) <= 257


# -- clock map -------------------------------------------------------------------------------------------------


def test_clock_map_keeps_sensor_spacing_and_follows_least_delay():
    m = ClockMap()
    # a backlog of 10 samples read at once at pipeline time 100.0: mapped times end at the arrival
    first = m.map_batch([i * 0.004 for i in range(10)], 100.0)
    assert first[-1] == pytest.approx(100.0) and first[1] - first[0] == pytest.approx(0.004)
    # later reads with 5 ms delay: the offset stays at its least value (the backlog read had none)
    nxt = m.map_batch([0.040, 0.044], 100.0 + 0.004 + 0.005 + 0.004)
    assert nxt[1] - nxt[0] == pytest.approx(0.004) and nxt[0] > first[-1]
    # a sensor restart (its clock starts over): the map resyncs
    again = m.map_batch([0.0], 200.0)
    assert again == [pytest.approx(200.0)] and m.resyncs == 1


def test_clock_map_never_goes_back():
    m = ClockMap()
    a = m.map_batch([0.0, 0.004], 10.020)  # delayed 16 ms
    b = m.map_batch([0.008], 10.009)  # arrives with 1 ms: offset steps down
    assert b[0] >= a[-1]


def test_clock_map_follows_a_slow_sensor_clock():
    m = ClockMap()
    lag = []
    for i in range(1, 3000):  # 300 s; the sensor clock is 0.5 % slow, arrival delay 2 ms
        t_sensor = i * 0.1 * 0.995
        arrival = i * 0.1 + 0.002
        lag.append(arrival - m.map_batch([t_sensor], arrival)[0])
    assert max(lag[100:]) < 0.01 and m.resyncs == 0


# -- replay ----------------------------------------------------------------------------------------------------


def test_read_physio_csv(tmp_path):
    path = tmp_path / "physio.csv"
    path.write_text("t_s,ecg,gsr,resp\n0.000,0.5,300,1\n0.004,!,301,1\n0.008,,302,1\n0.012,0.7,,1\n")
    samples, skipped = read_physio_csv(path)
    assert samples == [
        PhysioSample(0.0, 0.5, 300.0, None, False),
        PhysioSample(0.004, None, 301.0, None, True),
        PhysioSample(0.008, None, 302.0, None, False),
        PhysioSample(0.012, 0.7, None, None, False),
    ]
    assert skipped is None
    gsr_first = tmp_path / "g.csv"
    gsr_first.write_text("t_s,gsr\r\n1.0,2.0")  # CR-LF, and a last line without LF
    assert read_physio_csv(gsr_first) == ([PhysioSample(1.0, None, 2.0, None, False)], None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("time,ecg\n0,1\n", ":1: header must start with t_s"),
        ("t_s,resp\n0,1\n", ":1: header names no channel"),
        ("", ":1: header must start with t_s"),
    ],
)
def test_a_file_that_is_no_physio_log_is_refused(tmp_path, text: str, message: str):
    path = tmp_path / "physio.csv"
    path.write_text(text)
    with pytest.raises(RecordingError, match=str(path).replace(".", r"\.") + message):
        read_physio_csv(path)


MALFORMED = [  # (line, why), each after the good line 2 "0,1,2"
    ("0.1,1", "expected 3 fields (got 2)"),
    ("abc,1,2", "t_s is not a plain finite number ('abc')"),
    ("0.1,x,2", "ecg is not a plain finite number ('x')"),
    ("0.1,1,nan", "gsr is not a plain finite number ('nan')"),
    ("0.1,inf,2", "ecg is not a plain finite number ('inf')"),
    ("0.1,1_000,2", "ecg is not a plain finite number ('1_000')"),
    ("0.1,,", "no ecg or gsr value"),
    ("0.1,1,2" + "0" * 300, "longer than 256 bytes"),
    ("0.1,1,2\u00b5", "not ASCII"),
    ("-1,1,2", "t_s -1.0 goes back in time (previous 0.0)"),
]


@pytest.mark.parametrize(("line", "problem"), MALFORMED)
def test_a_malformed_line_is_skipped_or_refused_with_strict(tmp_path, line: str, problem: str):
    path = tmp_path / "physio.csv"
    path.write_text(f"t_s,ecg,gsr\n0,1,2\n{line}\n\n0.2,3,4\n", encoding="utf-8")
    samples, skipped = read_physio_csv(path)
    assert [s.t for s in samples] == [0.0, 0.2]  # the good lines around it are all used
    assert skipped is not None and (skipped.count, skipped.lines, skipped.at_s) == (1, (3,), (0.0,))
    assert skipped.detail == f"line 3: {problem}"
    with pytest.raises(RecordingError, match=re.escape(f"{path}:3: {problem} (--strict)")):
        read_physio_csv(path, strict=True)


def test_physio_csv_lines_follow_the_serial_lines_rules(tmp_path):
    """One rule for both: a serial csv line and a physio.csv line with the same ECG and GSR cells are both samples
    or both bad, with the same values; and a line over max_line_bytes is bad in both."""
    cells = ["512", "-0.25", "1e-3", "", "!", " 7 ", "nan", "inf", "-inf", "1e999", "0x10", "1_0", "abc", "+.5",
             "5.", ".", "--1", "1e", "\u00e9"]
    pairs = [(e, g) for e in cells for g in cells]
    path = tmp_path / "physio.csv"
    path.write_bytes(("t_s,ecg,gsr\n" + "".join(f"{i},{e},{g}\n" for i, (e, g) in enumerate(pairs))).encode())
    samples, skipped = read_physio_csv(path)
    parser = csv_parser()
    serial = parser.feed("".join(f"{i},{i},{e},{g}\n" for i, (e, g) in enumerate(pairs)).encode())
    assert [(s.t, s.ecg, s.gsr, s.leads_off) for s in samples] == [
        (round(s.t * 1000.0), s.ecg, s.gsr, s.leads_off) for s in serial]
    assert skipped is not None and skipped.count == parser.bad_lines > 0
    assert len(samples) + skipped.count == parser.lines == len(pairs)
    long = tmp_path / "long.csv"
    long.write_text("t_s,ecg,gsr\n0," + "1" * 40 + ",2\n1,1,2\n")
    assert read_physio_csv(long, max_line_bytes=32)[1].count == 1
    assert csv_parser(32).feed(b"0,0," + b"1" * 40 + b",2\n") == []


def test_read_physio_csv_missing_file(tmp_path):
    with pytest.raises(RecordingError, match="cannot read"):
        read_physio_csv(tmp_path / "nope.csv")


# -- source without a port -------------------------------------------------------------------------------------


def test_source_disabled_without_port():
    src = SerialSource(SerialConfig())
    with src:
        h = src.health()
        assert h.state == "disabled" and h.last_error is None
        assert src.drain() == []
    assert src.health().state == "disabled"


def test_source_unavailable_on_missing_port(tmp_path):
    cfg = SerialConfig(port=str(tmp_path / "ttyNOPE"), reopen_initial_s=0.05, reopen_max_s=0.1)
    with SerialSource(cfg) as src:
        import time

        deadline = time.monotonic() + 5
        while src.health().errors < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        h = src.health()
        assert h.state == "unavailable" and "ttyNOPE" in (h.last_error or "") and h.errors >= 3
    assert src.health().state == "stopped"
