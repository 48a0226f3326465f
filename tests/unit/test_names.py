"""Metric name <-> file path: readable, reversible, and never outside ``metrics/``."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swanlog_core import InvalidValueError
from swanlog_core._names import name_to_path, path_to_name

# Characters a path may hold as they are: what DESIGN calls safe on common file systems
# and shells, plus "%" (only as an escape) and "/" (only as the separator).
_SAFE_ASCII = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.+,=@%/")
_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"}


def assert_safe_path(name: str, path: str) -> None:
    """Everything DESIGN promises about the path of a valid metric name."""
    assert path.endswith(".jsonl"), path
    assert not path.startswith("/") and "\\" not in path, path
    segments = path.split("/")
    assert len(segments) == name.count("/") + 1, path
    for seg in segments:
        assert seg not in ("", ".", ".."), path
        assert not seg.startswith("."), path  # no hidden files either
        assert len(seg.encode("utf-8")) <= 255, path
    for seg in segments[:-1]:
        assert not seg.endswith(".jsonl"), path  # a folder never looks like a metric file
    for ch in path:
        if ch < "\x80":
            assert ch in _SAFE_ASCII, (ch, path)
        else:
            assert unicodedata.category(ch) not in _INVISIBLE, (ch, path)


# -- hostile names ----------------------------------------------------------------------

VALID_NAMES = [
    pytest.param("../x", id="dotdot-segment"),
    pytest.param("..", id="dotdot"),
    pytest.param(".", id="dot"),
    pytest.param("a/../../b", id="traversal-in-the-middle"),
    pytest.param(".hidden", id="leading-dot"),
    pytest.param("训练/损失", id="non-ascii"),
    pytest.param("%", id="percent"),
    pytest.param("50%/x", id="percent-in-folder"),
    pytest.param("%2E%2E", id="looks-like-an-escape"),
    pytest.param("a\x00b\nc\td", id="control-characters"),
    pytest.param('a:b*c?"<>|', id="windows-unsafe"),
    pytest.param("a\\b", id="backslash"),
    pytest.param("train loss", id="space"),
    pytest.param("evil\u202etxt.exe", id="rtl-override"),
    pytest.param("x.jsonl/y", id="folder-named-like-a-file"),
    pytest.param("x.jsonl", id="name-ending-in-suffix"),
    pytest.param("$(rm -rf ~);`id`", id="shell-metacharacters"),
    pytest.param("a" * 200, id="long-segment-that-fits"),
    pytest.param("/".join(["abcdefgh"] * 100), id="deep-nesting-that-fits"),
    pytest.param("\u00e9t\u00e9/\u0645\u0631\u062d\u0628\u0627/\U0001f525", id="accents-arabic-emoji"),
]


@pytest.mark.parametrize("name", VALID_NAMES)
def test_hostile_valid_name_maps_to_a_safe_reversible_path(name: str) -> None:
    """A strange but valid metric name gets a file inside metrics/ that maps back to it."""
    path = name_to_path(name)
    assert_safe_path(name, path)
    assert path_to_name(path) == name


INVALID_NAMES = [
    pytest.param("", id="empty"),
    pytest.param("a//b", id="empty-middle-segment"),
    pytest.param("/a", id="absolute"),
    pytest.param("a/", id="trailing-slash"),
    pytest.param("/", id="only-slash"),
    pytest.param("x" * 256, id="segment-over-255-bytes"),
    pytest.param("x" * 250, id="segment-over-255-bytes-with-suffix"),
    pytest.param("\u00e9" * 128, id="segment-over-255-utf8-bytes"),
    pytest.param("%" * 100, id="segment-over-255-bytes-once-encoded"),
    pytest.param("/".join(["abcdefghi"] * 103), id="name-over-1024-bytes"),
    pytest.param("bad\ud800", id="lone-surrogate"),
    pytest.param(None, id="none"),
    pytest.param(b"loss", id="bytes"),
    pytest.param(3, id="int"),
]


@pytest.mark.parametrize("name", INVALID_NAMES)
def test_invalid_name_is_a_clear_value_error(name: object) -> None:
    """An empty, malformed or over-long name is a ValueError, never a truncated or shared file."""
    with pytest.raises(ValueError, match="metric name") as info:
        name_to_path(name)  # type: ignore[arg-type]
    assert isinstance(info.value, InvalidValueError)


@pytest.mark.parametrize(
    ("name", "path"),
    [
        pytest.param("train/loss", "train/loss.jsonl", id="section"),
        pytest.param("训练/损失", "训练/损失.jsonl", id="letters-of-any-script-stay"),
        pytest.param("acc@1", "acc@1.jsonl", id="at-sign-stays"),
        pytest.param("x", "x.jsonl", id="plain"),
        pytest.param("lr=0.1,bs+2", "lr=0.1,bs+2.jsonl", id="punctuation-that-stays"),
    ],
)
def test_ordinary_names_stay_readable(name: str, path: str) -> None:
    """Ordinary names are their own paths, so files can be found by eye and with shell globs."""
    assert name_to_path(name) == path


def test_folder_ending_in_suffix_never_collides_with_a_metric_file() -> None:
    """Metric ``x`` and metric ``x.jsonl/y`` never share a path (one a file, one a folder)."""
    file_path = name_to_path("x")
    other = name_to_path("x.jsonl/y")
    assert not other.startswith(file_path + "/")
    assert other.split("/")[0] != file_path


def test_names_differing_only_by_escape_spelling_do_not_collide() -> None:
    """A name that looks like an escape (``%2F``) and the character it spells get different files."""
    paths = {name_to_path(n) for n in ("a/b", "a%2Fb", "a%2fb", "..", "%2E.", "%2E%2E")}
    assert len(paths) == 6


STRAY_PATHS = [
    pytest.param("notes.txt", id="other-suffix"),
    pytest.param(".hidden.jsonl", id="hidden-file"),
    pytest.param("a/.x/b.jsonl", id="hidden-folder"),
    pytest.param(".jsonl", id="suffix-only"),
    pytest.param("a//b.jsonl", id="empty-segment"),
    pytest.param("%FF.jsonl", id="escape-of-invalid-utf8"),
    pytest.param("a%2Fb.jsonl", id="escaped-separator"),
    pytest.param("%41.jsonl", id="needless-escape"),
    pytest.param("%2e%2e.jsonl", id="lower-case-escape"),
]


@pytest.mark.parametrize("path", STRAY_PATHS)
def test_path_to_name_ignores_files_swanlog_never_writes(path: str) -> None:
    """A stray or hand-made file under metrics/ is not taken for a metric (None, not a crash)."""
    assert path_to_name(path) is None


# -- properties -------------------------------------------------------------------------

_segment_chars = st.characters(exclude_categories=("Cs",), exclude_characters="/")
_tricky_segments = st.sampled_from(
    [".", "..", "...", ".x", "x.jsonl", "x.JSONL", "%", "%2E", "%25", " ", "\u202e", "\x00", "~", "-"]
)
_segments = st.one_of(st.text(_segment_chars, min_size=1, max_size=12), _tricky_segments)
valid_names = st.lists(_segments, min_size=1, max_size=6).map("/".join)


@settings(max_examples=100, deadline=None)
@given(valid_names)
def test_name_round_trip_and_confinement(name: str) -> None:
    """Any valid name maps to a path inside metrics/ that maps back to exactly that name."""
    path = name_to_path(name)
    assert_safe_path(name, path)
    assert path_to_name(path) == name


@settings(max_examples=100, deadline=None)
@given(st.text(st.characters(codec=None) | st.sampled_from("/./%"), max_size=40))
def test_any_string_is_either_refused_or_confined(name: str) -> None:
    """Whatever string is given, the result is an InvalidValueError or a safe, reversible path."""
    try:
        path = name_to_path(name)
    except InvalidValueError:
        segments = name.split("/")
        broken = (
            not name
            or "" in segments
            or any("\ud800" <= c <= "\udfff" for c in name)
            or any(len(s.encode("utf-8", "surrogatepass")) * 3 + 6 > 255 for s in segments)
        )
        assert broken, f"refused a valid name {name!r}"
        return
    assert_safe_path(name, path)
    assert path_to_name(path) == name


@settings(max_examples=60, deadline=None)
@given(valid_names, valid_names)
def test_distinct_names_get_distinct_files(a: str, b: str) -> None:
    """Two different metric names never share a file, whatever their spelling."""
    if a != b:
        assert name_to_path(a) != name_to_path(b)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(_segment_chars, min_size=1, max_size=3), min_size=1, max_size=3))
def test_long_names_are_refused_not_truncated(segments: list[str]) -> None:
    """A name padded past the limits is refused; it is never cut to fit a shorter name's file."""
    base = "/".join(segments)
    long_segment = base + "/" + "y" * 300
    long_name = "/".join([base] * (1100 // len(base.encode("utf-8")) + 2))
    for name in (long_segment, long_name):
        with pytest.raises(InvalidValueError):
            name_to_path(name)
