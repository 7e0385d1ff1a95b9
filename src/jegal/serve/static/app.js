// jegal serve: the page. Plain JavaScript, no build step, nothing loaded from elsewhere.
// The server's API is described in src/jegal/serve/app.py and docs/serve.md.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const SHOW_S = 8 / 25; // a gestured word is named on its person's box this long around its best frame

  let limits = null;
  let examplesShown = false;
  let followed = null; // id of the job the page follows
  let jobTimer = null;
  let modelTimer = null;
  let res = null; // the finished job's result
  let wordEls = [];
  let current = -1;
  let cores = []; // per speaker segment: [start_s, end_s] of its words
  let lost = 0; // polls in a row that could not reach the server

  async function api(path, options) {
    let response;
    try {
      response = await fetch(path, Object.assign({ credentials: "same-origin" }, options || {}));
    } catch (err) {
      return { ok: false, status: 0, body: { error: { title: "The server cannot be reached",
        message: String(err), hint: "Is jegal serve still running?" } } };
    }
    let body = null;
    try { body = await response.json(); } catch (err) { body = null; }
    return { ok: response.ok, status: response.status, body: body };
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function fmt(s) { return Number(s).toFixed(2) + " s"; }

  // -- errors ---------------------------------------------------------------------------------
  function showError(err) {
    $("error-title").textContent = err.title || "Something went wrong";
    $("error-message").textContent = err.message || "";
    $("error-hint").textContent = err.hint || "";
    $("error").hidden = false;
    inView("error");
  }

  function clearError() { $("error").hidden = true; }

  function notice(text) {
    // a plain word about the connection (the server unreachable, back again); empty hides it
    $("notice").textContent = text || "";
    $("notice").hidden = !text;
  }

  function inView(id) {
    // what changed after "Analyse" (the progress, an error, the result) is brought into view
    const box = $(id);
    if (box.hidden) return;
    const rect = box.getBoundingClientRect();
    if (rect.top < 0 || rect.top > window.innerHeight / 2) box.scrollIntoView({ block: "start" });
  }

  // -- the model --------------------------------------------------------------------------------
  function renderModel(m) {
    const states = {
      idle: "The model is about to be prepared.",
      finding: "Looking for a model\u2026",
      training: "Preparing the default model (once, on first start): ",
      loading: "Loading the model\u2026",
      ready: "The model is ready.",
      failed: "The model could not be prepared: ",
    };
    let text = states[m.state] || m.state;
    if (m.state === "training") text += m.stage + " (" + Math.round(100 * m.progress) + " %). Jobs wait for it.";
    if (m.state === "failed") text += m.error || "";
    $("model-state").textContent = text;
    $("model-state").className = m.state === "failed" ? "error" : "";
    const bar = $("model-progress");
    bar.hidden = m.state !== "training" && m.state !== "loading";
    bar.value = m.progress || 0;
    if (m.about) {
      $("model-who").textContent = m.about.who.charAt(0).toUpperCase() + m.about.who.slice(1);
      $("model-statement").textContent = m.about.statement;
      $("model-steps").textContent = m.about.steps ? " (" + m.about.steps + " training steps" +
        (m.about.preset ? ", " + m.about.preset + " preset" : "") + ")" : "";
      $("model-caveat").textContent = m.about.caveat;
      $("model-about").hidden = false;
    }
  }

  async function refreshStatus() {
    const r = await api("api/status");
    if (!r.ok) { showError(r.body && r.body.error || { title: "The server answered " + r.status }); return; }
    const s = r.body;
    limits = s.limits;
    renderModel(s.model);
    $("limits").textContent = "Up to " + limits.max_upload_mb + " MB and " + limits.max_seconds +
      " s of video; one job at a time per visitor.";
    if (!examplesShown) {
      const box = $("examples");
      for (const ex of s.examples) {
        const b = el("button", { type: "button", "data-example": ex.id }, ex.title);
        b.appendChild(el("span", { class: "what" }, ex.description));
        b.addEventListener("click", () => startExample(ex.id));
        box.appendChild(b);
      }
      examplesShown = true;
    }
    if (s.job && followed === null) follow(s.job);
    clearTimeout(modelTimer);
    if (s.model.state !== "ready" && s.model.state !== "failed") modelTimer = setTimeout(refreshStatus, 2000);
  }

  // -- jobs -------------------------------------------------------------------------------------
  async function submit(form) {
    clearError();
    notice("");
    $("result").hidden = true;
    setBusy(true);
    $("job").hidden = false;
    $("job-state").textContent = "Sending\u2026";
    $("job-progress").removeAttribute("value"); // (an indeterminate bar until the server answers)
    inView("job");
    const r = await api("api/jobs", { method: "POST", body: form });
    if (!r.ok) {
      setBusy(false);
      $("job").hidden = true;
      showError(r.body && r.body.error || { title: "The upload was refused", message: "HTTP " + r.status });
      return;
    }
    follow(r.body);
  }

  function startExample(id) {
    const form = new FormData();
    form.append("example", id);
    submit(form);
  }

  function setBusy(busy) {
    $("submit").disabled = busy;
    for (const b of document.querySelectorAll("#examples button")) b.disabled = busy;
  }

  function follow(job) {
    followed = job.id;
    renderJob(job);
  }

  async function poll() {
    const r = await api("api/jobs/" + followed);
    if (r.status === 0) {
      // the server cannot be reached (stopped, restarting, the network): ask again, waiting longer each time
      lost += 1;
      const wait = Math.min(30, Math.pow(2, lost - 1));
      notice("The server cannot be reached; asking again in " + wait + " s (attempt " + lost + ").");
      clearTimeout(jobTimer);
      jobTimer = setTimeout(poll, wait * 1000);
      return;
    }
    const back = lost > 0;
    lost = 0;
    notice(back ? "The server is back." : "");
    if (!r.ok) {
      setBusy(false);
      $("job").hidden = true;
      followed = null;
      if (r.status === 404) {
        showError({ title: "The job is gone", message: (back ? "The server is back, but it" : "The server") +
          " no longer has this job: it was restarted, or the job ended and its results were cleaned up.",
          hint: "Upload the video again." });
      } else {
        showError(r.body && r.body.error || { title: "The job was lost", message: "HTTP " + r.status });
      }
      return;
    }
    renderJob(r.body);
  }

  function renderJob(job) {
    clearTimeout(jobTimer);
    const box = $("job");
    if (job.state === "queued" || job.state === "running" || job.state === "receiving") {
      setBusy(true);
      box.hidden = false;
      $("job-state").textContent = job.state === "queued" ? job.message :
        (job.name ? job.name + ": " : "") + job.stage + "\u2026 (" + Math.round(job.elapsed_s) + " s)";
      $("job-progress").value = job.progress || 0;
      jobTimer = setTimeout(poll, 1000);
      return;
    }
    setBusy(false);
    box.hidden = true;
    if (job.state === "failed") {
      showError(job.error);
    } else if (job.state === "done" && (!res || res.video_url !== job.result.video_url)) {
      showResult(job.result);
    }
  }

  // -- the result -------------------------------------------------------------------------------
  function wordInfo(r) {
    // per word: the record shown for it (spot.json's people[].words[]) and whose it is: the person who
    // gestured it (the highest gesture score if several did), else its speaker's, else the highest score
    const info = r.words.map((w) => ({ rec: null, person: null, speaker: w.speaker === undefined ?
      (r.people.length === 1 ? r.people[0].person : null) : w.speaker }));
    for (const p of r.people) {
      for (const w of p.words) {
        const i = info[w.index];
        const rank = (rec, person) => [rec.gestured ? 1 : 0, person === i.speaker ? 1 : 0, rec.gesture_score];
        const mine = rank(w, p.person);
        const theirs = i.rec === null ? null : rank(i.rec, i.person);
        let better = theirs === null;
        for (let k = 0; !better && k < mine.length && mine[k] >= theirs[k]; k++) better = mine[k] > theirs[k];
        if (better) Object.assign(i, { rec: w, person: p.person });
      }
    }
    return info;
  }

  function decided(w) { return w.controls >= res.score.min_controls; }

  function scoreText(w) {
    // "gesture score 0.97 (p = 0.03, 57 controls)"
    return "gesture score " + w.gesture_score.toFixed(2) + " (p = " + w.p_value.toFixed(3) + ", " + w.controls +
      " control" + (w.controls === 1 ? "" : "s") + ")";
  }

  function colourOf(person) {
    const p = res.people.find((q) => q.person === person);
    return p ? p.colour : "#888";
  }

  function fromSpotJson(r) {
    // what the page shows, read from spot.json and asd.json as jegal spot / jegal asd write them (docs/use.md);
    // the server adds only the URLs, each person's colour and per-frame boxes, and the model's description
    const spot = r.spot;
    return {
      name: r.name, video_url: r.video_url, download_url: r.download_url, model: r.model,
      words: spot.words, threshold: spot.threshold, warnings: spot.warnings, fps: spot.fps,
      score: Object.assign({ alpha: 0.05, min_controls: 19 }, spot.gesture_score || {}), attribution: spot.attribution,
      num_frames: spot.num_frames, size: spot.size, segments: r.asd ? r.asd.segments : null,
      people: spot.people.map((p, k) => Object.assign({}, p, {
        colour: r.colours[k], boxes: r.boxes[k], maps: p.heatmaps.map((h) => r.map_urls[h]).filter(Boolean) })),
    };
  }

  function showResult(result) {
    const r = fromSpotJson(result);
    res = r;
    clearError();
    $("result-title").textContent = r.name + " \u2014 " + r.people.length + (r.people.length === 1 ? " person, " :
      " people, ") + r.words.length + " words";
    const video = $("player");
    video.src = r.video_url;
    // the transcript
    const words = $("words");
    words.textContent = "";
    const info = wordInfo(r);
    const alpha = r.score.alpha;
    wordEls = r.words.map((w, k) => {
      const span = el("span", { class: "word", "data-index": String(k), "data-start": String(w.start_s) }, w.word);
      const i = info[k];
      let tip = fmt(w.start_s) + " \u2013 " + fmt(w.end_s);
      if (i.speaker !== null) tip += "; spoken by person " + i.speaker + (r.people.length === 1 ? " (the only one " +
        "in view)" : "");
      else if (r.attribution === "speaker") tip += "; speaker undecided";
      const rec = i.rec;
      if (rec !== null) {
        tip += "\nperson " + i.person + ": " + scoreText(rec) + ": ";
        if (rec.gestured) tip += "gestured";
        else if (!decided(rec)) tip += "not decided (fewer than " + r.score.min_controls + " controls: too little " +
          "footage of this person)";
        else if (rec.gestured_by_score) tip += "beats the controls, but person " + i.person + " is not its speaker";
        else tip += "not gestured";
        tip += "\nAVS probability " + rec.probability.toFixed(2) + " at " + fmt(rec.best_s) + ", " +
          (rec.localised ? "localised" : "not localised") + " (where a gestured word was gestured; not evidence " +
          "of a gesture)";
        span.setAttribute("data-gesture-score", rec.gesture_score.toFixed(4));
        span.setAttribute("data-p-value", rec.p_value.toFixed(4));
        span.setAttribute("data-controls", String(rec.controls));
        span.setAttribute("data-probability", rec.probability.toFixed(4));
        span.setAttribute("data-person", String(i.person));
        if (rec.gestured) {
          span.classList.add("gestured");
          // the colour's strength: how far the score is past 1 - alpha (0.95) towards 1
          const a = 0.35 + 0.55 * Math.max(0, Math.min(1, (rec.gesture_score - (1 - alpha)) / alpha));
          span.style.backgroundColor = "rgba(230, 90, 0, " + a.toFixed(2) + ")";
          if (a > 0.6) span.style.color = "#fff";
          span.style.borderBottomColor = colourOf(i.person);
        } else if (!decided(rec)) {
          span.classList.add("undecided");
        }
      } else {
        tip += "; nobody in view";
      }
      span.title = tip;
      span.addEventListener("click", () => seek(w.start_s));
      words.appendChild(span);
      words.appendChild(document.createTextNode(" "));
      return span;
    });
    current = -1;
    $("score-rule").textContent = "p \u2264 " + alpha + ", which needs at least " + r.score.min_controls +
      " controls; with fewer a word is not decided" + (r.attribution === "speaker" ? "; with several people a " +
      "word counts only for the person who speaks it (as jegal asd decides)" : "");
    // each person's gestured words
    const people = $("people");
    people.textContent = "";
    for (const p of r.people) {
      const div = el("div", { class: "person" });
      const sw = el("span", { class: "swatch" });
      sw.style.background = p.colour;
      div.appendChild(sw);
      const n = p.gestured.length;
      const of = p.words.length + (p.words.length === 1 ? " word" : " words");
      div.appendChild(document.createTextNode(" Person " + p.person + " (in view " + fmt(p.start_s) + " \u2013 " +
        fmt(p.end_s) + "): " + (n ? n + " of " + of + " gestured: " : "none of " + of + " gestured")));
      for (const w of p.gestured) {
        const hit = el("span", { class: "hit gestured-word" }, w.word + " (" + fmt(w.start_s) + ", score " +
          w.gesture_score.toFixed(2) + ")");
        hit.title = scoreText(w) + "; best frame at " + fmt(w.best_s);
        hit.addEventListener("click", () => seek(w.best_s));
        div.appendChild(hit);
      }
      const open = p.words.filter((w) => !decided(w)).length;
      if (open) div.appendChild(el("span", { class: "undecided-count" }, "; " + open + " word" +
        (open > 1 ? "s" : "") + " not decided (fewer than " + r.score.min_controls + " controls)"));
      people.appendChild(div);
    }
    // who is speaking
    const segs = $("segments");
    segs.textContent = "";
    cores = [];
    $("speakers").hidden = !r.segments;
    for (const s of r.segments || []) {
      const first = s.words.length ? r.words[s.words[0]] : null;
      const last = s.words.length ? r.words[s.words[s.words.length - 1]] : null;
      cores.push(first ? [first.start_s, last.end_s] : [s.start_s, s.end_s]);
      const who = s.speaker === null ? "undecided (" + s.reason + ")" : "person " + s.speaker +
        (s.decision === "only_person" ? " (the only one in view)" : " speaking");
      const li = el("li", { class: s.speaker === null ? "undecided" : "" },
        fmt(s.start_s) + " \u2013 " + fmt(s.end_s) + ": " + who + (s.text ? " \u2014 \u201c" + s.text + "\u201d" : ""));
      const at = cores.length - 1;
      li.addEventListener("click", () => seek(cores[at][0]));
      segs.appendChild(li);
    }
    // the maps
    const maps = $("maps");
    maps.textContent = "";
    for (const p of r.people) {
      p.maps.forEach((url, k) => {
        const fig = el("figure");
        const img = el("img", { src: url, alt: "words \u00d7 frames map of person " + p.person + ", page " + (k + 1),
          loading: "lazy" });
        fig.appendChild(img);
        fig.appendChild(el("figcaption", {}, "person " + p.person + ", page " + (k + 1)));
        maps.appendChild(fig);
      });
    }
    if (!maps.children.length) maps.appendChild(el("p", { class: "note" }, "No map: no word was spoken while a person was in view."));
    $("download").href = r.download_url;
    const notes = $("warnings");
    notes.textContent = "";
    for (const w of r.warnings) notes.appendChild(el("li", {}, w));
    $("notes").hidden = !r.warnings.length;
    $("result").hidden = false;
    inView("result");
    tick();
  }

  function seek(t) {
    const video = $("player");
    video.currentTime = Math.max(0, t + 0.001);
    tick();
  }

  // -- following the video's time --------------------------------------------------------------
  function wordAt(t) {
    // the word whose span holds t (words are in time order; end_s is exclusive)
    let lo = 0, hi = res.words.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (res.words[mid].start_s <= t) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    while (found >= 0 && res.words[found].end_s <= t) found = -1;
    return found;
  }

  function tick() {
    if (!res) return;
    const video = $("player");
    const t = video.currentTime;
    const k = wordAt(t);
    if (k !== current) {
      if (current >= 0 && wordEls[current]) wordEls[current].classList.remove("current");
      current = k;
      if (k >= 0) {
        const w = wordEls[k];
        w.classList.add("current");
        const box = $("words");
        if (w.offsetTop < box.scrollTop || w.offsetTop > box.scrollTop + box.clientHeight - 30) {
          box.scrollTop = w.offsetTop - box.offsetTop - 10;
        }
      }
    }
    const segIndex = cores.findIndex((c) => c[0] <= t && t < c[1]);
    for (const li of document.querySelectorAll("#segments li")) li.classList.remove("now");
    if (segIndex >= 0) document.querySelectorAll("#segments li")[segIndex].classList.add("now");
    draw(t, segIndex >= 0 ? res.segments[segIndex].speaker : null);
  }

  function draw(t, speaker) {
    const video = $("player");
    const canvas = $("overlay");
    const cw = video.clientWidth, ch = video.clientHeight;
    if (canvas.width !== cw || canvas.height !== ch) { canvas.width = cw; canvas.height = ch; }
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, cw, ch);
    const vw = video.videoWidth || res.size[0], vh = video.videoHeight || res.size[1];
    const scale = Math.min(cw / vw, ch / vh);
    const dw = vw * scale, dh = vh * scale, ox = (cw - dw) / 2, oy = (ch - dh) / 2;
    const frame = Math.min(res.num_frames - 1, Math.floor(t * res.fps + 1e-6));
    ctx.font = "bold 13px system-ui, sans-serif";
    for (const p of res.people) {
      const b = p.boxes[frame];
      if (!b) continue;
      const x = ox + b[0] * dw, y = oy + b[1] * dh, w = (b[2] - b[0]) * dw, h = (b[3] - b[1]) * dh;
      const near = p.gestured.find((s) => Math.abs(s.best_s - t) <= SHOW_S);
      const talking = speaker === p.person;
      ctx.lineWidth = talking || near ? 4 : 2;
      ctx.strokeStyle = p.colour;
      ctx.strokeRect(x, y, w, h);
      const label = "person " + p.person + (talking ? " speaking" : "") + (near ? ": " + near.word : "");
      const tw = ctx.measureText(label).width + 8;
      const ty = y - 18 < 0 ? y : y - 18;
      ctx.fillStyle = p.colour;
      ctx.fillRect(x, ty, tw, 18);
      ctx.fillStyle = "#000";
      ctx.fillText(label, x + 4, ty + 13);
    }
  }

  function loop() {
    tick();
    if (!$("player").paused) requestAnimationFrame(loop);
  }

  // -- wiring -----------------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", () => {
    $("upload").addEventListener("submit", (ev) => {
      ev.preventDefault();
      clearError();
      const files = ["video-file", "transcript-file", "audio-file"].map((id) => $(id).files[0]).filter(Boolean);
      const total = files.reduce((n, f) => n + f.size, 0);
      if (limits && total > limits.max_upload_bytes) {
        showError({ title: "The upload is too large", message: files.map((f) => f.name).join(" + ") + ": " +
          (total / 1e6).toFixed(1) + " MB; the limit is " + limits.max_upload_mb + " MB.",
          hint: "Upload a shorter or smaller file." });
        return;
      }
      submit(new FormData($("upload")));
    });
    const video = $("player");
    for (const ev of ["timeupdate", "seeked", "loadeddata", "pause"]) video.addEventListener(ev, tick);
    video.addEventListener("play", () => requestAnimationFrame(loop));
    window.addEventListener("resize", tick);
    refreshStatus();
  });
})();
