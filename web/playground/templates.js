// Starter projects shown on the start screen: each becomes a new project of the playground.

import { newProject } from "./project.js";

const DATA_TOOLS = `import statistics


@tool
def describe_numbers(numbers: list[float]) -> dict:
    """Summary statistics of a list of numbers, with values far from the rest flagged.

    Args:
        numbers: The values to describe.
    """
    mean = statistics.fmean(numbers)
    stdev = statistics.stdev(numbers) if len(numbers) > 1 else 0.0
    outliers = [x for x in numbers if stdev and abs(x - mean) > 2 * stdev]
    return {"count": len(numbers), "mean": mean, "median": statistics.median(numbers),
            "stdev": stdev, "min": min(numbers), "max": max(numbers), "outliers": outliers}


@tool
def convert_units(value: float, from_unit: str, to_unit: str) -> float:
    """Convert a length or a mass between metric and imperial units.

    Args:
        value: The amount to convert.
        from_unit: One of m, km, ft, mi, kg, lb.
        to_unit: One of m, km, ft, mi, kg, lb (the same kind as from_unit).
    """
    metres = {"m": 1.0, "km": 1000.0, "ft": 0.3048, "mi": 1609.344}
    kilograms = {"kg": 1.0, "lb": 0.45359237}
    for table in (metres, kilograms):
        if from_unit in table and to_unit in table:
            return value * table[from_unit] / table[to_unit]
    raise ValueError(f"cannot convert {from_unit} to {to_unit}")
`;

const PAGE_TOOLS = `// Tools that run in this page: the model's code calls them like Python functions.

export default [
  {
    name: "page_info",
    description: "The page the user is looking at: its title, address, language, window size and colour theme.",
    inputs: {},
    outputType: "object",
    fn: () => ({
      title: document.title,
      url: location.href,
      language: navigator.language,
      width: innerWidth,
      height: innerHeight,
      dark: matchMedia("(prefers-color-scheme: dark)").matches,
    }),
  },
  {
    name: "show_note",
    description: "Show a short note to the user at the top of the page; returns what was shown.",
    inputs: { text: { type: "string", description: "The note, one or two sentences." } },
    outputType: "string",
    fn: ({ text }) => {
      const note = document.createElement("div");
      note.className = "playground-note";
      note.setAttribute("role", "status");
      note.textContent = text;
      document.body.prepend(note);
      setTimeout(() => note.remove(), 8000);
      return text;
    },
  },
];
`;

/** @type {{id: string, label: string, summary: string, make: () => import("./project.js").Project}[]} */
export const TEMPLATES = [
  {
    id: "data",
    label: "Calculator and data agent",
    summary: "Python tools: statistics of a list of numbers and unit conversion.",
    make: () => newProject({
      name: "Calculator and data agent",
      site: { title: "Number helper", intro: "Ask about your numbers and units.",
        examples: [{ label: "Data", task: "Describe 12.1, 11.8, 12.6, 13.0, 11.9, 12.4, 30.2: is one an outlier?" },
          { label: "Units", task: "How many feet are 3.5 km?" }] },
      agent: { type: "code", instructions: "Use the tools for statistics and conversions; answer in one or two sentences.",
        max_steps: 6, python_tools: DATA_TOOLS },
    }),
  },
  {
    id: "page",
    label: "Agent that uses the page",
    summary: "JS tools run in this page: they read it and show notes on it.",
    make: () => newProject({
      name: "Page agent",
      site: { title: "Page helper", intro: "An agent whose tools run in your browser tab.",
        examples: [{ label: "Page", task: "What is the title of this page? Show it to me as a note." }] },
      agent: { type: "code", instructions: "Use page_info to learn about the page and show_note to tell the user.",
        max_steps: 5, js_tools: PAGE_TOOLS },
    }),
  },
  {
    id: "mcp",
    label: "Agent with an MCP server",
    summary: "Tools from an MCP server: put your server's URL in (Streamable HTTP, allowing this site's origin).",
    make: () => newProject({
      name: "MCP agent",
      site: { title: "MCP helper", intro: "An agent whose tools come from an MCP server.",
        examples: [{ label: "MCP", task: "Which tools do you have? Try one of them." }] },
      agent: { type: "code", max_steps: 6, mcp_servers: ["http://127.0.0.1:8000/mcp"],
        instructions: "Use the MCP server's tools; say which one you used." },
    }),
  },
];
