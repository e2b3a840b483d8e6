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
    document.getElementById("progress").value = job.progress;
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
