// MCP servers in Model settings: add one (its tools are listed, or the reason it cannot be used
// from this page: unreachable, no CORS, credentials refused), see each server's tools, remove one.
// Server URLs and their tool names are kept in this browser; an Authorization value only in this
// tab's memory, like the API key.
//
//   const mcp = mountMcpSettings({ root: dialogElement, onChange: resetAgent });
//   createAgent({ ..., mcpServers: mcp.servers() });

import { listMcpTools } from "./wasm-agent.js";

/**
 * @param {object} options
 * @param {HTMLElement} options.root  holds #mcp-list, #mcp-url, #mcp-auth, #mcp-add, #mcp-status
 * @param {() => void} options.onChange  the servers changed (the agent must be made again)
 * @param {string} [options.storageKey]  where the list is kept (localStorage)
 */
export function mountMcpSettings({ root, onChange, storageKey = "wasm-agent:mcp-servers" }) {
  const $ = (selector) => root.querySelector(selector);
  const secrets = new Map(); // url -> Authorization value, for this tab only
  let saved = load();

  function load() {
    try {
      const value = JSON.parse(localStorage.getItem(storageKey) ?? "[]");
      return Array.isArray(value) ? value.filter((server) => typeof server?.url === "string") : [];
    } catch {
      return [];
    }
  }

  function store() {
    localStorage.setItem(storageKey, JSON.stringify(saved));
    render();
    onChange();
  }

  function render() {
    const list = $("#mcp-list");
    list.replaceChildren(...saved.map((server) => {
      const item = document.createElement("li");
      item.className = "mcp-server";
      const url = document.createElement("span");
      url.className = "mcp-url";
      url.textContent = server.url;
      const tools = document.createElement("span");
      tools.className = "mcp-tools";
      tools.textContent = server.tools.length ? `Tools: ${server.tools.join(", ")}` : "No tools";
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "btn";
      remove.textContent = "Remove";
      remove.setAttribute("aria-label", `Remove the MCP server ${server.url}`);
      remove.addEventListener("click", () => {
        saved = saved.filter((other) => other.url !== server.url);
        secrets.delete(server.url);
        $("#mcp-status").textContent = `Removed ${server.url}.`;
        store();
      });
      item.append(url, tools, remove);
      return item;
    }));
    $("#mcp-empty").hidden = saved.length > 0;
  }

  $("#mcp-add").addEventListener("click", async () => {
    const url = $("#mcp-url").value.trim();
    const authorization = $("#mcp-auth").value.trim();
    const status = $("#mcp-status");
    if (!/^https?:\/\//.test(url)) {
      status.textContent = "Give the server's URL (http:// or https://), e.g. https://example.com/mcp.";
      return;
    }
    const button = $("#mcp-add");
    button.disabled = true;
    status.textContent = `Connecting to ${url}…`;
    try {
      const headers = authorization ? { Authorization: authorization } : {};
      const answer = await listMcpTools({ url, headers });
      if (answer.error) {
        status.textContent = `Not added: ${answer.error}`;
        return;
      }
      if (authorization) secrets.set(url, authorization);
      saved = [...saved.filter((other) => other.url !== url), { url, tools: answer.tools.map((tool) => tool.name) }];
      $("#mcp-url").value = "";
      $("#mcp-auth").value = "";
      status.textContent = `Added ${url}: ${answer.tools.length} tool${answer.tools.length === 1 ? "" : "s"}.`;
      store();
    } catch (error) {
      status.textContent = `Not added: ${error.message}`;
    } finally {
      button.disabled = false;
    }
  });

  render();
  return {
    /** The servers for createAgent({mcpServers}). */
    servers: () => saved.map(({ url }) => ({ url, headers: secrets.has(url) ? { Authorization: secrets.get(url) } : {} })),
  };
}
