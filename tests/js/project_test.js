// deno test --no-prompt --allow-read=web tests/js/project_test.js  (run by tests/unit/test_playground_project.py)
//
// The playground's project format (web/playground/project.js): defaults, copies, the field-by-field
// check that refuses a bad file naming the field, never a key.
import { PROJECT_FORMAT, ProjectError, checkProject, copyProject, newProject } from "../../web/playground/project.js";

function assertEquals(actual, expected) {
  const [a, b] = [JSON.stringify(actual), JSON.stringify(expected)];
  if (a !== b) throw new Error(`expected ${b}\n     got ${a}`);
}

function refused(data, message) {
  try {
    checkProject(data);
  } catch (error) {
    if (!(error instanceof ProjectError)) throw error;
    assertEquals(error.message, message);
    return;
  }
  throw new Error(`accepted, but should be refused with: ${message}`);
}

const project = newProject({ name: "Numbers", agent: { python_tools: "@tool\ndef f(): ..." } });

Deno.test("a new project has the defaults and survives a JSON round trip", () => {
  assertEquals([project.format, project.version, project.agent.type, project.agent.max_steps, project.model],
    [PROJECT_FORMAT, 1, "code", 8, { provider: "", model: "", base_url: "" }]);
  assertEquals(checkProject(JSON.parse(JSON.stringify(project))), project);
});

Deno.test("a copy has a new id and name and the same definition", () => {
  const copy = copyProject(project);
  assertEquals([copy.name, copy.id !== project.id, copy.agent], ["Numbers (copy)", true, project.agent]);
});

Deno.test("left-out fields take their defaults and a string example becomes a task", () => {
  const { site, agent } = checkProject({ format: PROJECT_FORMAT, version: 1, id: "a1", name: "x", updated: 0,
    site: { examples: ["Add 2 and 3"] } });
  assertEquals([site.examples, agent.planning_interval, agent.js_tools], [[{ label: "", task: "Add 2 and 3" }], null, ""]);
});

Deno.test("a bad file is refused with a message naming the field", () => {
  refused({ ...project, agent: { ...project.agent, max_steps: "8" } },
    'agent.max_steps: must be a whole number between 1 and 100, not "8"');
  refused({ ...project, agent: { ...project.agent, type: "chat" } }, 'agent.type: "chat" is not one of code, toolcalling');
  refused({ ...project, agent: { ...project.agent, authorized_imports: ["numpy", "1x"] } },
    'agent.authorized_imports[1]: "1x" is not a module name (like "numpy" or "os.path")');
  refused({ ...project, model: { ...project.model, base_url: "ftp://x" } }, 'model.base_url: "ftp://x" is not an http(s) URL');
  refused({ ...project, agent: { ...project.agent, mcp_servers: ["mcp"] } }, 'agent.mcp_servers[0]: "mcp" is not an http(s) URL');
  refused({ ...project, version: 2 }, "version: number 2 is not a version this page reads (it reads 1)");
  refused({ ...project, format: "other" }, 'format: must be "wasm-agent-project": this is not a wasm-agent project');
  refused({ ...project, name: " " }, "name: must not be empty");
  refused({ ...project, extra: 1 }, "extra: unknown field (known here: format, version, id, name, updated, site, agent, model)");
  refused([], "a project is a JSON object, not a list");
});

Deno.test("a project never holds a key, whatever its spelling", () => {
  for (const key of ["api_key", "apiKey", "token", "secret_key"]) {
    refused({ ...project, model: { ...project.model, [key]: "sk-1" } }, `model.${key}: a project never holds a key: it is `
      + "exported and shared, so the key would be everybody's. Enter it in Model settings instead.");
  }
});

Deno.test("providers are checked when the page knows them", () => {
  const named = { ...project, model: { ...project.model, provider: "acme" } };
  checkProject(named);
  try {
    checkProject(named, { providers: ["openai", "browser"] });
    throw new Error("accepted");
  } catch (error) {
    assertEquals(error.message, 'model.provider: "acme" is not a provider; known: openai, browser');
  }
});

