"""The line a failed worker sends: the error's kind and its first line, without TensorFlow's
graph node name."""

from __future__ import annotations

from profiler.base.errors import error_summary


def test_the_graph_node_name_is_left_out():
    error = FileNotFoundError(
        "{{function_node __wrapped__IteratorGetNext_output_types_2_device_/job:localhost/"
        "replica:0/task:0/device:CPU:0}} [Errno 2] No such file or directory: 'a.jpg'\nmore"
    )
    assert error_summary(error) == "FileNotFoundError: [Errno 2] No such file or directory: 'a.jpg'"


def test_a_long_error_is_cut_to_300_characters():
    assert len(error_summary(ValueError("x" * 1000))) == 300


def test_an_eager_errors_empty_op_name_is_left_out():
    error = RuntimeError("corrupted record at 24803 [Op:IteratorGetNext] name: ")
    assert error_summary(error) == "RuntimeError: corrupted record at 24803 [Op:IteratorGetNext]"
