// JS tools of the site's agent: they run in the page, and the model's Python code calls them like
// functions (keyword arguments become the object `fn` receives). `inputs` is the tool's schema.

export default [
  {
    name: "current_time",
    description: "The current date and time in the visitor's browser: ISO timestamp, time zone and weekday.",
    inputs: {},
    outputType: "object",
    fn: () => {
      const now = new Date();
      return { iso: now.toISOString(), timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
        weekday: now.toLocaleDateString("en", { weekday: "long" }) };
    },
  },
];
