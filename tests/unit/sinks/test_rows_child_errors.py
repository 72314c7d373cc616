"""What the sink's rows process raises must reach the worker as an error, never as a dead child:
the parent takes an exception it cannot unpickle for a dead child (RowsLost, transient), and the
batch would be read again and fail again for ever (a stalled sink)."""
from __future__ import annotations

import pickle

import pytest

from pipeline.sinks import rows_process


class _Unpicklable(Exception):
    def __init__(self, message: str, detail: int) -> None:  # args hold only the message
        super().__init__(message)
        self.detail = detail


class _Raising:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def prepare(self, *args):
        raise self.exc


def test_an_exception_that_cannot_cross_the_pipe_crosses_as_its_type_and_message(monkeypatch):
    monkeypatch.setattr(rows_process, "_rows", _Raising(_Unpicklable("bad row", 3)))
    with pytest.raises(RuntimeError) as raised:
        rows_process._in_child("prepare", 1, [])
    assert str(raised.value) == "_Unpicklable: bad row"
    pickle.loads(pickle.dumps(raised.value))  # what ProcessPoolExecutor does with it


def test_an_exception_that_crosses_is_raised_as_it_is(monkeypatch):
    monkeypatch.setattr(rows_process, "_rows", _Raising(rows_process.InsertFailed("rated_calls: down", 2)))
    with pytest.raises(rows_process.InsertFailed) as raised:
        rows_process._in_child("prepare", 1, [])
    again = pickle.loads(pickle.dumps(raised.value))
    assert (str(again), again.failures) == ("rated_calls: down", 2)
