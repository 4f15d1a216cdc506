// The page side of sharing: a shared link opens read-only, and the project in use can be shared as a
// link or downloaded as a site.
//
//   openSharedLink({ onCopy })        // at start: a #project=… link shows its project, read-only
//   mountProjectActions(root, () => project)   // "Share link" and "Download site" for a project
//
// Nothing of a shared project runs before the visitor has seen its tools and agreed: only then is a
// copy (a new id) handed to `onCopy` (the page opens it in the playground, which saves it). A link that cannot be read says why, and the page goes on.

import { copyProject } from "./project.js";
import { downloadSite } from "./publish.js";
import { isShareFragment, LONG_LINK, readShareFragment, shareLink } from "./share.js";

const stylesheet = Object.assign(document.createElement("link"), { rel: "stylesheet", href: new URL("share.css", import.meta.url).href });
document.head.append(stylesheet);

// Where each part of a project runs, said before anything of it does.
export const WHERE_CODE_RUNS = "The Python code the model writes runs in the sandbox: an isolated Python with no "
  + "network, no storage and no access to this page or your key. This agent's own tools are different: its Python "
  + "tools run in the page's agent worker and its JS tools run in the page itself, with what this page can do: "
  + "use the network, and use the API key you enter in Model settings.";

/** At start: when the URL carries a shared project, show it read-only (or say why it cannot be read). */
export async function openSharedLink({ onCopy, hash = location.hash } = {}) {
  if (!isShareFragment(hash)) return null;
  let project;
  try {
    project = await readShareFragment(hash);
  } catch (error) {
    showLinkProblem(error.name === "ShareLinkError" ? error.message
      : `This link's shared agent could not be opened: ${error.message}`);
    return null;
  }
  return showSharedProject(project, { onCopy });
}

function forgetLink() { // a reload, or a link copied from the address bar, is the page without the project
  history.replaceState(history.state, "", location.pathname + location.search);
}

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

function dialogShell(title, id) {
  const dialog = el("dialog", { className: "settings shared-project", id });
  dialog.setAttribute("aria-labelledby", `${id}-title`);
  const body = el("div", { className: "shared-body" }, el("h2", { id: `${id}-title`, textContent: title, tabIndex: -1 }));
  dialog.append(body);
  document.body.append(dialog);
  return { dialog, body };
}

function showLinkProblem(message) {
  const { dialog, body } = dialogShell("This shared link cannot be opened", "shared-link-problem");
  body.append(el("p", { className: "notice notice-error", textContent: message }),
    el("p", { className: "field-help", textContent: "Ask for the link again, or copy all of it. Nothing from it has run; "
      + "the page works as usual." }));
  const close = el("button", { type: "button", className: "btn btn-primary", textContent: "Continue to the page" });
  close.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => { forgetLink(); dialog.remove(); });
  body.append(el("div", { className: "dialog-buttons" }, el("span", { className: "spacer" }), close));
  dialog.showModal();
  close.focus();
}

function codeBlock(label, where, source, id) {
  const heading = el("h3", { id: `${id}-label` }, `${label} `, el("span", { className: "shared-where", textContent: where }));
  if (!source.trim()) return el("section", {}, heading, el("p", { className: "field-help", textContent: "None." }));
  const pre = el("pre", { className: "shared-code", tabIndex: 0, id }, el("code", { textContent: source }));
  pre.setAttribute("aria-labelledby", heading.id);
  return el("section", {}, heading, pre);
}

function summary(project) {
  const { site, agent, model } = project;
  const rows = [
    ["Title", site.title || "—"],
    ["Agent", `${agent.type === "code" ? "Code agent (writes Python)" : "Tool-calling agent"}`
      + `${agent.max_steps ? `, at most ${agent.max_steps} steps` : ""}`
      + `${agent.planning_interval ? `, plans every ${agent.planning_interval} steps` : ""}`],
    ["Model", [model.provider, model.model, model.base_url].filter(Boolean).join(" · ") || "the visitor's choice"],
    ["Authorized imports", agent.authorized_imports.join(", ") || "none"],
    ["Examples", site.examples.map((example) => example.task).join(" | ") || "none"],
  ];
  const list = el("dl", { className: "shared-summary" });
  for (const [term, value] of rows) list.append(el("dt", { textContent: term }), el("dd", { textContent: value }));
  return list;
}

/** Where runs of the project send the visitor's key, when the project names a server of its own. */
function keyDestination({ provider, base_url: baseUrl }) {
  if (!baseUrl) return "";
  const host = new URL(baseUrl).host;
  return ` Its runs send the model's requests, with the API key you enter for ${provider || "the provider"}, `
    + `to ${host}: check that this is the server you mean to use.`;
}

/** The read-only view of a shared project; resolves to the copy the visitor made, or null. */
export function showSharedProject(project, { onCopy } = {}) {
  const { dialog, body } = dialogShell(`Shared agent: ${project.name}`, "shared-project");
  const hasTools = Boolean(project.agent.python_tools.trim() || project.agent.js_tools.trim());
  body.append(
    el("p", { className: "field-help", textContent: "Someone shared this agent with you as a link. You see it "
      + "read-only, as it came; nothing of it has run. Edit a copy to try it." }),
    summary(project),
    el("h3", { textContent: "Instructions" }),
    el("pre", { className: "shared-text", textContent: project.agent.instructions || "None." }),
    codeBlock("Python tools", "run in the agent worker of this page", project.agent.python_tools, "shared-python-tools"),
    codeBlock("JS tools", "run in this page", project.agent.js_tools, "shared-js-tools"),
    el("p", { className: "notice notice-info shared-where-runs", id: "shared-where-runs",
      textContent: `${WHERE_CODE_RUNS}${keyDestination(project.model)} Agree only if you trust them.` }),
  );
  const consent = el("input", { type: "checkbox", id: "shared-consent" });
  consent.setAttribute("aria-describedby", "shared-where-runs");
  const copy = el("button", { type: "button", className: "btn btn-primary", id: "shared-copy", textContent: "Edit a copy",
    disabled: hasTools });
  const leave = el("button", { type: "button", className: "btn", id: "shared-leave", textContent: "Close without running it" });
  if (hasTools) {
    body.append(el("label", { className: "field-check shared-consent" }, consent,
      " I have read this agent's tools and agree to run them in this browser."));
  }
  body.append(el("div", { className: "dialog-buttons" }, leave, el("span", { className: "spacer" }), copy));
  consent.addEventListener("change", () => { copy.disabled = !consent.checked; });
  return new Promise((resolve) => {
    let made = null;
    copy.addEventListener("click", () => {
      if (hasTools && !consent.checked) return;
      made = copyProject(project, project.name);
      dialog.close();
    });
    leave.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", async () => {
      forgetLink();
      dialog.remove();
      if (made) await onCopy?.(made);
      resolve(made);
    });
    dialog.showModal();
    body.querySelector("h2").focus(); // read from the top: the agent, then its tools, then the choice
  });
}

/**
 * "Share link" and "Download site" buttons for the project `getProject()` returns, with a status line.
 * @param {HTMLElement} root  where the buttons go
 * @param {() => object | Promise<object>} getProject  the project as it is now (saved)
 */
export function mountProjectActions(root, getProject) {
  const status = el("p", { className: "field-help project-actions-status", role: "status" });
  const linkField = el("input", { type: "text", readOnly: true, className: "share-link-field", hidden: true,
    id: "share-link" });
  linkField.setAttribute("aria-label", "Share link");
  const share = el("button", { type: "button", className: "btn", id: "share-project", textContent: "Share link" });
  const download = el("button", { type: "button", className: "btn", id: "download-site", textContent: "Download site" });
  share.addEventListener("click", async () => {
    let link;
    try {
      link = await shareLink(await getProject());
    } catch (error) {
      status.textContent = `No link: ${error.message}`;
      return;
    }
    linkField.value = link;
    linkField.hidden = false;
    linkField.select();
    const copied = await navigator.clipboard?.writeText(link).then(() => true, () => false);
    status.textContent = `${copied ? "Link copied" : "Link ready: copy it from the box"} (${link.length.toLocaleString("en")} `
      + `characters; it holds the agent and its tools, never your key).`
      + `${link.length > LONG_LINK ? " It is long: some chat and mail apps cut links this long, so check it arrives whole." : ""}`;
  });
  download.addEventListener("click", async () => {
    download.disabled = true;
    try {
      const { files, bytes, notes } = await downloadSite(await getProject(), {
        onProgress: ({ message, loaded, total }) => {
          status.textContent = total ? `${message}: ${(loaded / 1e6).toFixed(1)} / ${(total / 1e6).toFixed(1)} MB` : `${message}…`;
        },
      });
      status.textContent = `Site downloaded: ${files} files, ${(bytes / 1e6).toFixed(1)} MB. Unzip it onto any static `
        + `host; it opens on this agent, with no key in it.${notes.length ? ` ${notes.join(" ")}` : ""}`;
    } catch (error) {
      status.textContent = `The site could not be made: ${error.message}`;
    } finally {
      download.disabled = false;
    }
  });
  root.append(el("div", { className: "project-actions" }, share, download), linkField, status);
  return { status };
}
