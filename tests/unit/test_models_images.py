"""Images reach OpenAI, Anthropic and Gemini in each one's wire format: from `images=`, from a step's
`observations_images`, from message parts; PIL images, AgentImage, bytes, paths and URLs.

Over real HTTP to the loopback mock server; the requests it recorded are read back.
"""

import base64
import io

import pytest
from test_models_loopback import fresh, make, server  # noqa: F401 - the loopback server and its three models

from wasm_agent import AgentImage, CodeAgent
from wasm_agent.errors import AgentGenerationError
from wasm_agent.messages import ChatMessage
from wasm_agent.models import AnthropicModel, GeminiModel, OpenAIModel
from wasm_agent.models.retry import RetryPolicy

pytestmark = pytest.mark.cpython_only
Image = pytest.importorskip("PIL.Image")  # in the test extra



@pytest.fixture
def model(make):
    return make(retry_policy=RetryPolicy(max_retries=0))


def sent_images(model, body):
    """(media type, file bytes or URL) of every image in a recorded request body, in the provider's format."""
    found = []
    if isinstance(model, OpenAIModel):
        for message in body["messages"]:
            for part in message["content"] if isinstance(message["content"], list) else ():
                assert part["type"] in ("text", "image_url"), part
                if part["type"] == "image_url":
                    url = part["image_url"]["url"]
                    if url.startswith("data:"):
                        header, data = url.split(",", 1)
                        assert header.endswith(";base64")
                        found.append((header[5:-7], base64.b64decode(data, validate=True)))
                    else:
                        found.append((None, url))
    elif isinstance(model, AnthropicModel):
        for message in body["messages"]:
            for block in message["content"]:
                if block["type"] == "image":
                    source = block["source"]
                    found.append((source["media_type"], base64.b64decode(source["data"], validate=True))
                                 if source["type"] == "base64" else (None, source["url"]))
    else:
        for content in body["contents"]:
            for part in content["parts"]:
                if "inlineData" in part:
                    found.append((part["inlineData"]["mimeType"],
                                  base64.b64decode(part["inlineData"]["data"], validate=True)))
                elif "fileData" in part:
                    found.append((part["fileData"]["mimeType"], part["fileData"]["fileUri"]))
    return found


def picture(size=(8, 5), color="red"):
    return Image.new("RGB", size, color)


def opened(data):
    return Image.open(io.BytesIO(data))


async def test_an_image_part_reaches_the_provider_as_an_image(server, model):
    server.script({"text": "A red rectangle."})
    question = ChatMessage("user", [{"type": "text", "text": "What is this?"}, {"type": "image", "image": picture()}])
    answer = await model.agenerate([question])
    assert answer.content == "A red rectangle."
    ((media_type, data),) = sent_images(model, server.requests[0].json)
    assert media_type == "image/png" and opened(data).size == (8, 5) and opened(data).getpixel((0, 0)) == (255, 0, 0)
    assert "What is this?" in str(server.requests[0].json)  # the text goes with it


async def test_task_images_and_observation_images_reach_the_model(server, model):
    server.script({"text": "<code>print('looked')</code>"}, {"text": "<code>final_answer('done')</code>"})

    def screenshot(step, agent):
        step.observations_images = [AgentImage(picture((4, 4), "blue"))]

    agent = CodeAgent([], model, executor_type="inprocess", step_callbacks=[screenshot], verbosity_level=0)
    assert await agent.arun("Compare these.", images=[picture(), AgentImage(picture((3, 2), "green"))]) == "done"
    first, second = (sent_images(model, request.json) for request in server.requests)
    assert [opened(data).size for _, data in first] == [(8, 5), (3, 2)]
    assert [opened(data).size for _, data in second] == [(8, 5), (3, 2), (4, 4)]  # the screenshot of step 1
    assert opened(second[2][1]).getpixel((0, 0)) == (0, 0, 255)


async def test_images_as_bytes_paths_and_urls(server, model, tmp_path):
    jpeg = io.BytesIO()
    picture().save(jpeg, format="JPEG")
    path = tmp_path / "photo.jpg"
    path.write_bytes(jpeg.getvalue())
    parts = [{"type": "image", "image": jpeg.getvalue()}, {"type": "image", "image": str(path)},
             {"type": "image", "image": "https://example.com/cat.png"},
             {"type": "image_url", "image_url": {"url": "data:image/gif;base64,R0lGODlhAQABAAAAACw="}}]
    server.script({"text": "ok"})
    await model.agenerate([ChatMessage("user", [{"type": "text", "text": "Look."}, *parts])])
    sent = sent_images(model, server.requests[0].json)
    assert sent[0] == ("image/jpeg", jpeg.getvalue()) and sent[1] == ("image/jpeg", jpeg.getvalue())
    assert sent[2][1] == "https://example.com/cat.png" and sent[3][0] == "image/gif"


async def test_what_is_not_an_image_fails_the_call_clearly(server, model):
    agent = CodeAgent([], model, executor_type="inprocess", verbosity_level=0)
    with pytest.raises(AgentGenerationError, match="a int cannot be sent as an image"):
        await agent.arun("Look.", images=[42])
    assert server.requests == []  # nothing half-made was sent
