// No inline scripts or handlers anywhere: the Content-Security-Policy allows only this file.

// The strength slider shows its value.
(function () {
  const strength = document.getElementById("strength");
  if (!strength) return;
  strength.addEventListener("input", () => { strength.nextElementSibling.value = strength.value; });
})();

// Job pages poll the JSON API until the job ends, then show the result (no page reload).
(function () {
  const card = document.getElementById("job");
  if (!card) return;
  const id = card.dataset.job;
  const show = (name, visible) => { document.getElementById(name).hidden = !visible; };
  async function poll() {
    const response = await fetch(`/api/jobs/${id}`, { credentials: "same-origin" });
    if (!response.ok) return setTimeout(poll, 2000);
    const job = await response.json();
    document.getElementById("status").textContent = job.status;
    document.getElementById("position").textContent = job.position ? `· number ${job.position} in the queue` : "";
    showProgress(job);
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
  // The worker reports each stage (see fst.stylize.engine); the bar eases towards the stage's end
  // meanwhile, so a long "painting" stage moves instead of sitting at 30% and jumping to 100%.
  const STAGES = [[0.15, "Reading your photo"], [0.3, "Loading the style"], [0.9, "Painting"], [0.97, "Saving"], [1.01, "Done"]];
  let reported = -1, since = 0;
  function showProgress(job) {
    const bar = document.getElementById("progress");
    if (job.status !== "running") { bar.value = job.status === "done" ? 1 : 0; document.getElementById("stage").textContent = ""; return; }
    if (job.progress !== reported) { reported = job.progress; since = Date.now(); }
    const stage = STAGES.find(([end]) => reported < end) || STAGES[STAGES.length - 1];
    const seconds = (Date.now() - since) / 1000;
    // Approach the stage's end (never reach it) with a 3-second time constant.
    bar.value = reported + (stage[0] - reported) * 0.9 * (1 - Math.exp(-seconds / 3));
    document.getElementById("stage").textContent = stage[1] + "…";
  }
  const status = document.getElementById("status").textContent;
  if (status === "queued" || status === "running") poll();
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
