"""What generated code and the user get, the same with the in-process executor and the Deno sandbox:
objects, dates, bytes, sets and images from tools, from `additional_args` and in final answers.

In process the values are the objects themselves; through the sandbox they are encoded and rebuilt
(`wasm_agent/executor/wire_values.py`). A user sees the same either way.
"""

import dataclasses
import datetime
from typing import Any

import pytest
from deno_sandbox import require_deno_sandbox

from wasm_agent import CodeAgent, ScriptedModel, tool
from wasm_agent import InProcessExecutor
from wasm_agent.executor import ExecutionLimits
from wasm_agent.platform import block_on

pytestmark = pytest.mark.cpython_only

sandbox = require_deno_sandbox()


@dataclasses.dataclass
class Box:
    width: int
    height: float
    label: str

    def area(self):
        return self.width * self.height


@dataclasses.dataclass
class Order:
    placed: datetime.datetime
    lines: list
    paid: bool = False


@tool
def measure(label: str) -> Any:
    """Measure a box.

    Args:
        label: The box's label.
    """
    return Box(3, 4.0, label)


@tool
def describe(item: Any) -> str:
    """Say what a value is, as the host sees it.

    Args:
        item: Any value.
    """
    return f"{type(item).__name__} of {type(item).__module__}: {item!r}"


@tool
def echo(item: Any) -> Any:
    """Give the value back.

    Args:
        item: Any value.
    """
    return item


@tool
def make_image(width: int, height: int) -> Any:
    """Draw a red image.

    Args:
        width: In pixels.
        height: In pixels.
    """
    from PIL import Image

    return Image.new("RGB", (width, height), "red")


TOOLS = [measure, describe, echo, make_image]


@pytest.fixture(scope="module")
def deno_executor():
    executor = sandbox.DenoSandboxExecutor(limits=ExecutionLimits(timeout_seconds=30))
    yield executor
    block_on(executor.close())


@pytest.fixture(scope="module", params=["inprocess", "sandbox"])
def executor(request):
    return InProcessExecutor() if request.param == "inprocess" else request.getfixturevalue("deno_executor")


def run(executor, *actions, **kwargs):
    agent = CodeAgent(TOOLS, ScriptedModel([f"<code>\n{action}\n</code>" for action in actions]),
                      executor=executor, verbosity_level=0)
    answer = block_on(agent.arun("Work with the values.", **kwargs))
    return answer, [step.observations for step in agent.memory.steps[1:]]


def test_an_object_from_a_tool_has_its_attributes_and_goes_back_as_itself(executor):
    answer, observations = run(executor, "box = measure('lid')\nprint(box, box.width * box.height)",
                               "final_answer([describe(box), box])")
    assert "Box(width=3, height=4.0, label='lid') 12.0" in observations[0]
    assert answer[0] == f"Box of {__name__}: Box(width=3, height=4.0, label='lid')"  # the host's own class
    assert type(answer[1]) is Box and answer[1].area() == 12.0


def test_additional_args_arrive_as_their_types(executor):
    order = Order(datetime.datetime(2024, 5, 1, 9, 30), [("pen", 2)])
    answer, _ = run(executor, "from datetime import timedelta\n"
                              "final_answer({'due': order.placed + timedelta(days=2), 'first': order.lines[0],"
                              " 'size': len(blob), 'tags': sorted(tags), 'day': day.isoweekday(),"
                              " 'kinds': [type(v).__name__ for v in (order.placed, blob, tags, day, order.lines[0])],"
                              " 'order': order})",
                    additional_args={"order": order, "blob": b"\x00\x01\x02", "tags": {"b", "a"},
                                     "day": datetime.date(2024, 5, 1)})
    assert answer["due"] == datetime.datetime(2024, 5, 3, 9, 30) and answer["first"] == ("pen", 2)
    assert (answer["size"], answer["tags"], answer["day"]) == (3, ["a", "b"], 3)
    assert answer["kinds"] == ["datetime", "bytes", "set", "date", "tuple"]
    assert answer["order"] == order and type(answer["order"]) is Order


def test_a_dataclass_the_code_defines_reaches_the_user_and_comes_back_to_the_code_as_itself(executor):
    answer, observations = run(
        executor,
        "from dataclasses import dataclass, asdict\n"
        "@dataclass\nclass Point:\n    x: int\n    y: int\n"
        "p = echo(Point(1, 2))\nprint(type(p) is Point, describe(p).split(': ')[1], asdict(p))",
        "final_answer(p)")
    assert "True Point(x=1, y=2) {'x': 1, 'y': 2}" in observations[0]
    assert (answer.x, answer.y, repr(answer)) == (1, 2, "Point(x=1, y=2)")
    assert dataclasses.is_dataclass(answer) and dataclasses.asdict(answer) == {"x": 1, "y": 2}


def test_an_image_from_a_tool_is_an_image_to_the_code_and_to_the_user(executor):
    Image = pytest.importorskip("PIL.Image")  # in the test extra
    answer, observations = run(executor, "image = make_image(10, 7)\nprint('size', image.size)",
                               "final_answer(image)")
    assert "size (10, 7)" in observations[0]  # a PIL image in process; its bytes, that know their size, in the sandbox
    assert isinstance(answer, Image.Image) and answer.size == (10, 7) and answer.getpixel((0, 0)) == (255, 0, 0)


def test_markers_forged_inside_the_sandbox_build_no_host_class(deno_executor):
    # The code replaces the sandbox's encoder, so that its tool call carries hand-made markers.
    forge = (
        "import wasm_agent.executor.sandbox_main as sandbox_main\n"
        "real = sandbox_main.to_wire\n"
        "def forged(value, exact=False, *rest, **options):\n"
        "    if value == ['forge']:\n"
        "        return [[{'$object': {'module': 'subprocess', 'type': 'Popen', 'kind': 'object',\n"
        "                              'fields': {'args': ['id']}}},\n"
        "                 {'$object': {'module': 'os', 'type': 'x', 'kind': 'object', 'fields': {'__class__': 1}}}]]\n"
        "    return real(value, exact, *rest, **options)\n"
        "sandbox_main.to_wire = forged\n"
        "final_answer(describe('forge'))")
    answer, _ = run(deno_executor, forge)
    assert answer.startswith("list of builtins: [Popen(args=['id']), {'$object':")
    assert answer.count("Popen") == 1 and "subprocess" not in answer.split("{'$object'")[0]
