// No inline scripts or handlers anywhere: the Content-Security-Policy allows only this file.

// The strength slider shows its value.
(function () {
  const strength = document.getElementById("strength");
  if (!strength) return;
  strength.addEventListener("input", () => { strength.nextElementSibling.value = strength.value; });
})();

// A job's progress in words: "42% · about 6 s left" (the worker's estimate, see fst.web.worker).
function timeLeft(seconds) {
  if (seconds < 1) return "almost done";
  if (seconds < 60) return `about ${Math.round(seconds)} s left`;
  return `about ${Math.round(seconds / 60)} min left`;
}
function progressText(job) {
  if (job.status !== "running") return "";
  const percent = `${Math.floor(job.progress * 100)}%`;
  return job.eta_s === null || job.eta_s === undefined ? `${percent} · starting…` : `${percent} · ${timeLeft(job.eta_s)}`;
}
async function fetchJob(id) {
  const response = await fetch(`/api/jobs/${id}`, { credentials: "same-origin" });
  return response.ok ? response.json() : null;
}

// Job pages poll the JSON API until the job ends, then show the result (no page reload).
(function () {
  const card = document.getElementById("job");
  if (!card) return;
  const id = card.dataset.job;
  const show = (name, visible) => { document.getElementById(name).hidden = !visible; };
  async function poll() {
    const job = await fetchJob(id);
    if (!job) return setTimeout(poll, 2000);
    document.getElementById("status").textContent = job.status;
    document.getElementById("position").textContent = job.position ? `· number ${job.position} in the queue` : "";
    document.getElementById("progress").value = job.status === "done" ? 1 : job.progress;
    document.getElementById("stage").textContent = progressText(job);
    if (job.status === "done") {
      document.getElementById("result-image").src = job.result_url;
      show("result", true);
    } else if (job.status === "failed") {
      document.getElementById("job-error").textContent = job.error;  // textContent: never parsed as HTML
      show("job-error", true);
    } else {
      setTimeout(poll, 700);
    }
  }
  const status = document.getElementById("status").textContent;
  if (status === "queued" || status === "running") poll();
})();

// The gallery polls its unfinished pictures: progress and time left, then the result in place.
(function () {
  for (const tile of document.querySelectorAll(".tile[data-status=queued], .tile[data-status=running]")) {
    const id = tile.dataset.job;
    const placeholder = tile.querySelector(".placeholder");
    const poll = async () => {
      const job = await fetchJob(id);
      if (!job) return setTimeout(poll, 2000);
      tile.dataset.status = job.status;
      tile.querySelector(".tile-status").textContent = job.status === "queued" && job.position
        ? `queued · number ${job.position}` : job.status;
      tile.querySelector(".tile-progress").textContent = progressText(job);
      tile.querySelector("progress").value = job.progress;
      if (job.status === "done") {
        const image = document.createElement("img");
        image.src = job.result_url;
        image.alt = job.style_title;
        placeholder.replaceChildren(image);
        placeholder.classList.remove("placeholder");
      } else if (job.status === "failed") {
        tile.querySelector(".tile-progress").textContent = job.error;  // textContent: never parsed as HTML
      } else {
        setTimeout(poll, 700);
      }
    };
    poll();
  }
})();

// Deleting asks first: a picture deleted is gone for good.
document.addEventListener("submit", (event) => {
  const message = event.target.dataset && event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});

// The painting picker: filter the labelled paintings as you type.
(function () {
  const search = document.getElementById("painting-search");
  if (!search) return;
  const paintings = Array.from(document.querySelectorAll("#paintings .painting"));
  search.addEventListener("input", () => {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const painting of paintings) {
      const match = words.every((word) => painting.dataset.title.includes(word));
      painting.hidden = !match;
      shown += match ? 1 : 0;
    }
    document.getElementById("paintings-none").hidden = shown > 0;
  });
})();

// Before/after: the stylized image covers the photo from the slider's position rightwards.
(function () {
  const slider = document.getElementById("compare-slider");
  const after = document.getElementById("result-image");
  if (!slider || !after) return;
  const show = () => { after.style.clipPath = `inset(0 0 0 ${slider.value}%)`; };  // CSSOM: allowed by the CSP
  slider.addEventListener("input", show);
  show();
})();
