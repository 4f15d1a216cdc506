// A scripted stand-in for wllama's module (wllama/index.js of the site), for tests of what the page does
// with the in-browser model's answers: it loads nothing and answers every chat completion with a
// step that prints and never calls final_answer: a model that never finds an answer.
// It speaks the part of wllama's API that web/browser-model.js uses, chunks shaped like llama-server's.
let calls = 0;

export class Wllama {
  constructor() {}
  setCompat() {}
  async loadModelFromUrl(url, params) {
    params.progressCallback?.({ loaded: 1, total: 1 });
  }
  async loadModel() {}
  getNumThreads() { return 1; }
  isMultithread() { return false; }
  getChatTemplate() { return "scripted"; }
  async exit() {}
  async createChatCompletion(options) {
    calls += 1;
    const text = `Thought: I look at it once more.\n<code>\nprint("attempt ${calls}")\n`;
    async function* chunks() {
      for (const piece of text.match(/[\s\S]{1,8}/g)) {
        if (options.abortSignal?.aborted) return;
        await new Promise((resolve) => setTimeout(resolve, 5));
        yield { choices: [{ delta: { content: piece }, finish_reason: null }] };
      }
      yield { choices: [{ delta: {}, finish_reason: "stop" }],
              timings: { prompt_n: 10, cache_n: 0, predicted_n: 12, prompt_per_second: 100, predicted_per_second: 50 } };
    }
    return chunks();
  }
}

export class ModelManager {
  async getModels() { return []; }
  async clear() {}
}
