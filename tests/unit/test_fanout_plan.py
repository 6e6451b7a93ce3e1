"""How a document's pages that need the engine are split into page tasks, and how a task's
pages travel in its message."""

import pytest

from ocr_service.aws.event_shapes import UnsupportedEventError
from ocr_service.aws.fanout import PageTask, format_pages, parse_pages, split_pages
from ocr_service.aws.results import ObjectVersion


def test_pages_per_task_with_a_shorter_last_task() -> None:
    assert split_pages(range(1, 31), 10) == [
        tuple(range(1, 11)),
        tuple(range(11, 21)),
        tuple(range(21, 31)),
    ]
    assert split_pages(range(1, 22), 10)[-1] == (21,)


def test_only_the_given_pages_are_split_in_order() -> None:
    scanned = [9, 2, 4, 5, 30, 31, 32]
    assert split_pages(scanned, 3) == [(2, 4, 5), (9, 30, 31), (32,)]


@pytest.mark.parametrize(
    ("pages", "text"),
    [((1,), "1"), ((1, 2, 3), "1-3"), ((1, 2, 3, 7, 9, 10), "1-3,7,9-10"), ((5, 8), "5,8")],
)
def test_page_sets_travel_as_short_runs(pages: tuple[int, ...], text: str) -> None:
    assert format_pages(pages) == text
    assert parse_pages(text) == pages


@pytest.mark.parametrize("text", ["0", "3-1", "a", "1-b", "-2"])
def test_a_page_set_that_is_no_page_set_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_pages(text)


def test_a_task_round_trips_through_its_message_body() -> None:
    import json

    task = PageTask(ObjectVersion("b", "d/ü.pdf", "e", "v1"), (2, 3, 4, 9), 1, 3, 12)
    (fields,) = json.loads(task.body()).values()
    assert PageTask.from_fields(fields) == task


@pytest.mark.parametrize(
    "change", [{"pages": ""}, {"part": 3}, {"part": -1}, {"parts": "x"}, {"pages": "0-2"}]
)
def test_a_task_whose_fields_contradict_each_other_is_unsupported(
    change: dict[str, object],
) -> None:
    import json

    task = PageTask(ObjectVersion("b", "k", "e", None), (1, 2), 0, 3, 30)
    (fields,) = json.loads(task.body()).values()
    with pytest.raises(UnsupportedEventError):
        PageTask.from_fields({**fields, **change})
