// JS tools of the site's agent: they run in the page, and the model's Python code calls them like
// functions (keyword arguments become the object `fn` receives). `inputs` is the tool's schema.

export default [
  {
    name: "visitor_locale",
    description: "The visitor's language, time zone and local date, as their browser reports them.",
    inputs: {},
    outputType: "object",
    fn: () => ({
      language: navigator.language,
      timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
      localDate: new Date().toLocaleDateString(navigator.language, { dateStyle: "full" }),
    }),
  },
];
