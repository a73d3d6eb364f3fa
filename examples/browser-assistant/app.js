// The scripted assistant: each proposed step goes through Warden first.
import { Warden } from "/warden/warden.js";

const policies = await (await fetch("./policies.json")).json();
const warden = await Warden.create({ policies });

const steps = [
  ["read the pricing section", "page.read", "section/pricing"],
  ["read the admin notes", "page.read", "section/admin-notes"],
  ["fill in the contact form's email", "form.fill", "form/contact#email"],
  ["fill in the card number", "form.fill", "form/payment#card_number"],
  ["submit the contact form", "form.submit", "form/contact"],
  ["open the docs", "navigate", "https://docs.example.com/guide"],
  ["open a link from an email", "navigate", "https://evil.example.net/login"],
];

const log = document.getElementById("log");
for (const [label, action, resource] of steps) {
  const d = warden.check(action, resource);
  const row = document.createElement("tr");
  row.dataset.effect = d.effect;
  const verdict = d.effect === "escalate" ? "ask the user" : d.effect;
  for (const [text, cls] of [[label], [action], [resource], [verdict, d.effect], [d.reason]]) {
    const cell = document.createElement("td");
    cell.textContent = text;
    if (cls) cell.className = cls;
    row.append(cell);
  }
  log.append(row);
}
document.getElementById("engine").textContent = `Decided in ${navigator.userAgent.includes("Chrome") ? "Chromium" : "this browser"} by warden.wasm.`;
