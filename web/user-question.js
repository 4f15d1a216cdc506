// The agent asks its user (the `user_input` tool): a question box in the chat, answered in place.
// The run waits for the answer; Stop cancels the question (the tool then fails and the run stops).
// Used by the site (app.js) and by <wasm-agent>, as createAgent's `onUserInput`.
//
//   const questions = new UserQuestions(() => view.turn ?? logElement);
//   createAgent({ ..., onUserInput: (question) => questions.ask(question) });
//   stopButton.onclick = () => { questions.cancel(); agent.interrupt(); };

let nextId = 1;

export class UserQuestions {
  #pending = new Set(); // {box, reject}

  /** @param {() => HTMLElement} place  where the question goes (the agent's current turn) */
  constructor(place) {
    this.place = place;
  }

  /** Show the question; resolves with the typed answer, rejects if cancelled. */
  ask(question) {
    const id = `agent-question-${nextId++}`;
    const box = document.createElement("form");
    box.className = "user-question";
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-labelledby", `${id}-label`);
    box.innerHTML = `
      <p class="msg-label" id="${id}-label">The agent asks you</p>
      <p class="user-question-text"></p>
      <label class="visually-hidden" for="${id}">Your answer</label>
      <div class="user-question-row">
        <input id="${id}" name="answer" type="text" autocomplete="off" required>
        <button type="submit" class="btn btn-primary">Answer</button>
      </div>`;
    box.querySelector(".user-question-text").textContent = question;
    this.place().append(box);
    const input = box.querySelector("input");
    input.setAttribute("aria-describedby", `${id}-label`);
    box.scrollIntoView?.({ block: "nearest" });
    input.focus();
    return new Promise((resolve, reject) => {
      const entry = { box, reject };
      this.#pending.add(entry);
      box.addEventListener("submit", (event) => {
        event.preventDefault();
        const answer = input.value;
        this.#settle(entry, `You answered: ${answer}`);
        resolve(answer);
      });
    });
  }

  /** Withdraw every open question (the run was stopped). */
  cancel(reason = "the user stopped the run instead of answering") {
    for (const entry of [...this.#pending]) {
      this.#settle(entry, "No answer: the run was stopped.");
      entry.reject(new Error(reason));
    }
  }

  #settle(entry, text) {
    this.#pending.delete(entry);
    const note = document.createElement("p");
    note.className = "user-question-answer";
    note.textContent = text;
    entry.box.replaceChildren(entry.box.firstElementChild, entry.box.children[1], note);
    entry.box.removeAttribute("role");
  }
}
