// Renders the server's OpenAPI document (/openapi.json) as a page: operations grouped by tag,
// their parameters, bodies and responses, then the schemas. Text from the document (column
// comments written by module authors among it) is only ever inserted as text, never as HTML.
"use strict";

function element(name, attributes, ...children) {
  const node = document.createElement(name);
  for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, value);
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function schemaName(schema) {
  const reference = schema && schema.$ref;
  return reference ? reference.split("/").pop() : null;
}

function typeText(schema) {
  if (!schema) return "";
  const name = schemaName(schema);
  if (name) return name;
  let type = Array.isArray(schema.type) ? schema.type.join(" | ") : (schema.type || "any");
  if (schema.format) type += ` (${schema.format})`;
  if (schema.items) type += ` of ${typeText(schema.items)}`;
  if (schema.enum) type += `: ${schema.enum.map((v) => JSON.stringify(v)).join(", ")}`;
  if (schema.minimum !== undefined || schema.maximum !== undefined) {
    type += ` [${schema.minimum ?? ""}, ${schema.maximum ?? ""}]`;
  }
  return type;
}

function schemaLink(schema) {
  const name = schemaName(schema);
  return name ? element("a", { href: `#schema-${name}` }, name) : typeText(schema);
}

function parameterTable(parameters) {
  if (!parameters || parameters.length === 0) return null;
  const rows = parameters.map((p) => element("tr", {},
    element("td", {}, element("code", {}, p.name), p.required ? element("span", { class: "required" }, " required") : null),
    element("td", {}, p.in),
    element("td", {}, typeText(p.schema)),
    element("td", {}, p.description || "")));
  return element("table", {},
    element("tr", {}, element("th", {}, "parameter"), element("th", {}, "in"), element("th", {}, "type"), element("th", {}, "")),
    ...rows);
}

function responseTable(responses) {
  const rows = Object.entries(responses || {}).map(([code, response]) => {
    const content = response.content || {};
    const media = Object.keys(content);
    const body = media.map((type) => element("span", {}, element("code", {}, type), " ", schemaLink(content[type].schema)));
    return element("tr", {}, element("td", {}, code), element("td", {}, response.description || ""), element("td", {}, ...body));
  });
  return element("table", {},
    element("tr", {}, element("th", {}, "status"), element("th", {}, ""), element("th", {}, "body")), ...rows);
}

function operationBlock(path, method, operation) {
  const body = operation.requestBody && operation.requestBody.content && operation.requestBody.content["application/json"];
  const block = element("details", { "data-search": `${method} ${path} ${(operation.tags || []).join(" ")}`.toLowerCase() },
    element("summary", {},
      element("span", { class: `method ${method}` }, method),
      element("span", { class: "path" }, path), " ",
      element("span", { class: "muted" }, operation.summary || "")),
    element("div", {},
      element("p", {}, operation.description || ""),
      parameterTable(operation.parameters),
      body ? element("p", {}, "Body: ", schemaLink(body.schema)) : null,
      responseTable(operation.responses)));
  return block;
}

function schemaBlock(name, schema) {
  const required = new Set(schema.required || []);
  const rows = Object.entries(schema.properties || {}).map(([property, definition]) => element("tr", {},
    element("td", {}, element("code", {}, property), required.has(property) ? element("span", { class: "required" }, " required") : null),
    element("td", {}, typeText(definition)),
    element("td", {}, definition.description || "")));
  return element("details", { id: `schema-${name}` },
    element("summary", {}, element("code", {}, name), " ", element("span", { class: "muted" }, schema.description || "")),
    element("div", {},
      schema.additionalProperties === false ? element("p", { class: "muted" }, "No other field is accepted.") : null,
      rows.length ? element("table", {},
        element("tr", {}, element("th", {}, "field"), element("th", {}, "type"), element("th", {}, "")), ...rows) : null));
}

function render(document_) {
  document.getElementById("title").textContent = `${document_.info.title} ${document_.info.version}`;
  document.getElementById("description").textContent = document_.info.description || "";
  const byTag = new Map();
  for (const [path, methods] of Object.entries(document_.paths || {})) {
    for (const [method, operation] of Object.entries(methods)) {
      const tag = (operation.tags || ["other"])[0];
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push(operationBlock(path, method, operation));
    }
  }
  const operations = document.getElementById("operations");
  const tags = document.getElementById("tags");
  for (const [tag, blocks] of [...byTag.entries()].sort()) {
    tags.append(element("a", { href: `#tag-${tag}` }, tag));
    operations.append(element("section", { class: "tag" }, element("h2", { id: `tag-${tag}` }, tag), ...blocks));
  }
  const schemas = document.getElementById("schemas");
  for (const [name, schema] of Object.entries((document_.components || {}).schemas || {}).sort()) {
    schemas.append(schemaBlock(name, schema));
  }
}

function filter(text) {
  const wanted = text.trim().toLowerCase();
  for (const block of document.querySelectorAll("#operations details")) {
    block.hidden = wanted !== "" && !block.dataset.search.includes(wanted);
  }
  for (const section of document.querySelectorAll("#operations section")) {
    section.hidden = [...section.querySelectorAll("details")].every((block) => block.hidden);
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  document.getElementById("filter").addEventListener("input", (event) => filter(event.target.value));
  try {
    const response = await fetch("/openapi.json");
    if (!response.ok) throw new Error(`/openapi.json answered ${response.status}`);
    render(await response.json());
  } catch (error) {
    document.getElementById("description").textContent = `The API description could not be loaded: ${error.message}`;
  }
});
