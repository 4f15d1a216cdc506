// Loads a JS tools module (a blob: URL) away from the page, to check its exports without running it
// there: posts {tools: [{name, description, inputs, outputType, fn: typeof}]} or {error: {name, message}}.
// The page ends this worker when loading takes too long (a loop at the module's top level).

self.onmessage = async ({ data: { url } }) => {
  try {
    const module = await import(url);
    const tools = module.default ?? module.tools;
    if (!Array.isArray(tools)) {
      self.postMessage({ error: { name: "TypeError", message: "the module exports no array of tools: write `export default [ {name, description, inputs, outputType, fn} ]`" } });
      return;
    }
    self.postMessage({ tools: tools.map((tool) => (tool && typeof tool === "object"
      ? { name: tool.name, description: tool.description, inputs: tool.inputs, outputType: tool.outputType, fn: typeof tool.fn }
      : { notAnObject: String(tool) })) });
  } catch (error) {
    self.postMessage({ error: { name: error?.name ?? "Error", message: error?.message ?? String(error) } });
  }
};
