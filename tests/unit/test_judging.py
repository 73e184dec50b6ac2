"""How the executor judges a cell against what it declares (``_Execution._judge``), without a kernel:
the execute reply and the outputs are what nbclient would hand over."""
from __future__ import annotations


import pytest
from nbformat.v4 import new_code_cell, new_output

from runbook.databases import Database
from runbook.executor import Progress, RunOptions, _Execution
from runbook.notebooks import Cell, Expectation

from ..notebook_builder import cell


@pytest.fixture
def judge(make_runbook, tmp_path):
    rb = make_runbook([cell("c", "!true")])
    execution = _Execution(rb, RunOptions(), tmp_path / "project", Database(f"sqlite:///{tmp_path}/db.sqlite3"),
                           tmp_path, Progress())

    def judge(expect: Expectation, reply: dict | None, *texts: str, other_output=None, duration=0.25):
        c = Cell(index=3, id="c", source="!do it\n!and more", tags=(), expect=expect)
        node = new_code_cell("!do it")
        node.outputs = [new_output("stream", name="stdout", text=t) for t in texts]
        if other_output:
            node.outputs.append(other_output)
        if reply is not None:
            execution.replies[id(node)] = {"content": reply}
        return execution._judge(c, node, duration)

    judge.tmp = tmp_path
    return judge


def ok():
    return {"status": "ok"}


def failed(code, command="do it"):
    return {"status": "error", "ename": "CommandFailed", "evalue": f"exit status {code}: {command}"}


def test_a_cell_that_succeeds_passes(judge):
    rec = judge(Expectation(), ok(), "hello ", "world\n", other_output=new_output("execute_result", data={"text/plain": "42"}))
    assert (rec.id, rec.commands, rec.outcome, rec.duration, rec.exit, rec.output, rec.error) == (
        "c", ["do it", "and more"], "passed", 0.25, 0, "hello world\n", None)


def test_output_is_scrubbed(judge):
    rec = judge(Expectation(), ok(), f"in {judge.tmp}/project/x and {judge.tmp}/y at 2026-01-02 03:04:05\n")
    assert rec.output == "in <project>/x and <tmp>/y at <timestamp>\n"


def test_a_failing_command_fails_the_cell(judge):
    rec = judge(Expectation(), failed(3, f"ls {judge.tmp}"), "no\n")
    assert (rec.outcome, rec.exit, rec.error) == ("failed", 3, "CommandFailed: exit status 3: ls <tmp>")


def test_a_python_error_has_no_exit_code(judge):
    rec = judge(Expectation(), {"status": "error", "ename": "RuntimeError", "evalue": "boom"})
    assert (rec.outcome, rec.exit, rec.error) == ("failed", None, "RuntimeError: boom")


def test_a_cell_without_a_reply_failed(judge):
    rec = judge(Expectation(), None)
    assert (rec.outcome, rec.exit, rec.error) == ("failed", None, ": ")


def test_a_timeout_is_its_own_outcome(judge):
    reply = {"status": "error", "ename": "CellTimeoutError", "evalue": "no result after 3s; the command was killed"}
    for expect in (Expectation(), Expectation(exit=1, output="x")):
        rec = judge(expect, reply, "partial\n")
        assert (rec.outcome, rec.exit, rec.error, rec.output) == (
            "timeout", None, "timed out: no result after 3s; the command was killed", "partial\n")


def test_an_expected_failure_that_happens(judge):
    rec = judge(Expectation(exit=1, output=r"Unknown command: 'dbflush'"), failed(1), "Unknown command: 'dbflush'\n")
    assert (rec.outcome, rec.exit, rec.error) == ("expected-failure", 1, None)
    rec = judge(Expectation(exit=2), failed(2))
    assert (rec.outcome, rec.exit, rec.error) == ("expected-failure", 2, None)
    rec = judge(Expectation(exit=-9), failed(-9))
    assert (rec.outcome, rec.exit) == ("expected-failure", -9)


def test_an_expected_failure_that_succeeds_fails(judge):
    rec = judge(Expectation(exit=1, output="Error"), ok(), "Error\n")
    assert (rec.outcome, rec.exit, rec.error) == ("failed", 0, "expected exit status 1, but the cell succeeded")


def test_an_expected_failure_with_another_exit_code_fails(judge):
    rec = judge(Expectation(exit=1), failed(2, f"cd {judge.tmp}"))
    assert (rec.outcome, rec.exit, rec.error) == ("failed", 2, "expected exit status 1, got CommandFailed: exit status 2: cd <tmp>")
    rec = judge(Expectation(exit=1), {"status": "error", "ename": "RuntimeError", "evalue": "boom"})
    assert (rec.outcome, rec.error) == ("failed", "expected exit status 1, got RuntimeError: boom")


def test_an_expected_failure_with_another_message_fails(judge):
    rec = judge(Expectation(exit=1, output="CircularDependencyError"), failed(1), "Unknown command\n")
    assert (rec.outcome, rec.exit, rec.error) == ("failed", 1, "output does not match /CircularDependencyError/")


def test_the_output_of_a_successful_cell_is_asserted_too(judge):
    rec = judge(Expectation(output="^No changes detected$"), ok(), "No changes detected in app 'x'\n")
    assert (rec.outcome, rec.error) == ("failed", "output does not match /^No changes detected$/")
    rec = judge(Expectation(output="(?m)^No changes detected$"), ok(), "x\n", "No changes detected\n")
    assert (rec.outcome, rec.error) == ("passed", None)


def test_the_pattern_is_searched_in_the_scrubbed_output(judge):
    rec = judge(Expectation(output="^in <tmp>/x$"), ok(), f"in {judge.tmp}/x")
    assert rec.outcome == "passed", rec.error


def test_a_failure_is_not_judged_on_its_output(judge):
    rec = judge(Expectation(output="nothing like it"), failed(4), "boom\n")
    assert rec.error == "CommandFailed: exit status 4: do it"


def test_an_expectation_names_parameters_filled_in_and_escaped(judge, make_runbook, tmp_path):
    """`{app}` in an expected output is the run's value, matched literally (a dot is not any character)."""
    rb = make_runbook([cell("c", "!true")])
    execution = _Execution(rb, RunOptions(parameters={"app": "acc.ounts"}), tmp_path / "project",
                           Database(f"sqlite:///{tmp_path}/db.sqlite3"), tmp_path, Progress())
    execution.values["app"] = "acc.ounts"
    c = Cell(index=3, id="c", source="!do it", tags=(), expect=Expectation(output=r"^Unapplying {app}\.0002"))
    for text, outcome in (("Unapplying acc.ounts.0002\n", "passed"), ("Unapplying accXounts.0002\n", "failed"),
                          ("Unapplying {app}.0002\n", "failed"), ("Unapplying None.0002\n", "failed")):
        node = new_code_cell("!do it")
        node.outputs = [new_output("stream", name="stdout", text=text)]
        execution.replies[id(node)] = {"content": ok()}
        assert execution._judge(c, node, 0.1).outcome == outcome, text
