// A scripted in-page "AI agent" (a content script): it means to read the
// page, fill its fields, submit its form and follow a link — and asks Warden
// before each step, doing only what is allowed. Each step's outcome is marked
// on the page (data-warden-* attributes), where a user — or a test — sees it.
import { askWarden } from "@warden/extension";

async function step(action: string, resource: string, target: Element | null, run: () => void): Promise<void> {
  const d = await askWarden({ action, resource });
  if (d.allowed) run();
  if (target) {
    target.setAttribute("data-warden-effect", d.effect);
    target.setAttribute("data-warden-reason", d.reason);
  }
}

async function act(): Promise<void> {
  const page = location.href.split("#")[0];
  await step("page.read", page, document.body, () => document.body.setAttribute("data-warden-read", String(document.title.length)));
  for (const field of Array.from(document.querySelectorAll<HTMLInputElement>("form input[name]"))) {
    await step("form.fill", `${page}#${field.name}`, field, () => {
      field.value = field.name === "email" ? "agent@example.com" : `filled by the agent`;
    });
  }
  const form = document.querySelector("form");
  if (form) await step("form.submit", new URL(form.getAttribute("action") ?? page, page).href, form, () => form.setAttribute("data-warden-submitted", "true"));
  const link = document.querySelector<HTMLAnchorElement>("a[href]");
  if (link) await step("navigate", link.href, link, () => link.setAttribute("data-warden-followed", "true"));
  document.documentElement.setAttribute("data-warden-done", "true");
}

void act();
