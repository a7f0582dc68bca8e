//! Operations read out of an OpenAPI 3.1 document, as `utoipa` writes it.
//!
//! Each path and method is one [`Operation`], named `METHOD /path`. The
//! handler's doc comment (utoipa's `summary` and `description`) is the
//! description; parameters, the request body and the responses become
//! `**Parameters:**`, `**Request body:**` and `**Responses:**` sections, with
//! the fields of JSON bodies resolved through `$ref`s and `allOf`s.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::Operation;
use super::markdown::{DocComment, Section, strip_links};

/// HTTP methods in reference order; their index is the secondary sort key.
const METHODS: [&str; 8] = [
    "get", "post", "put", "patch", "delete", "head", "options", "trace",
];

/// Referenced schemas are expanded into nested field lists this deep.
const MAX_DEPTH: usize = 3;

/// A Rust source file, to find handlers in: (path relative to the workspace
/// root, contents).
pub type SourceFile = (String, String);

/// The document's operations, sorted by path then method.
///
/// `handlers` are searched, in order, for `async fn <operationId>(`; the
/// first match is the operation's location. `common_schemas` (the error
/// body, described once in the intro) are named in responses without their
/// fields.
///
/// Fails, listing every offender, when an operation has no `operationId`, no
/// summary, or no handler, or when a `$ref` does not resolve.
pub fn operations(
    doc: &Value,
    handlers: &[SourceFile],
    handlers_shown: &str,
    common_schemas: &[&str],
) -> Result<Vec<Operation>, String> {
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return Err("the OpenAPI document has no `paths`".to_owned());
    };
    let schemas = Schemas {
        doc,
        common_schemas,
    };
    let mut ops = Vec::new();
    let mut problems = Vec::new();
    let mut sorted_paths: Vec<&String> = paths.keys().collect();
    sorted_paths.sort();
    for path in sorted_paths {
        for (rank, method) in METHODS.iter().enumerate() {
            if paths[path].get(method).is_none() {
                continue;
            }
            match operation(&schemas, &paths[path], path, rank, handlers, handlers_shown) {
                Ok(op) => ops.push(op),
                Err(e) => problems.push(e),
            }
        }
    }
    if problems.is_empty() {
        Ok(ops)
    } else {
        Err(problems.join("\n"))
    }
}

/// Inconsistencies worth a warning that do not stop generation: path
/// parameters missing from the path template (utoipa's default for an
/// `IntoParams` struct without `#[into_params(parameter_in = Query)]`), and
/// template variables without a parameter.
pub fn warnings(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return out;
    };
    let mut sorted_paths: Vec<&String> = paths.keys().collect();
    sorted_paths.sort();
    for path in sorted_paths {
        for method in METHODS {
            let Some(op) = paths[path].get(method) else {
                continue;
            };
            let name = format!("{} {path}", method.to_ascii_uppercase());
            let params = parameters(doc, &paths[path], op).unwrap_or_default();
            let in_path: BTreeSet<&str> = params
                .iter()
                .filter(|p| p.get("in").and_then(Value::as_str) == Some("path"))
                .filter_map(|p| p.get("name").and_then(Value::as_str))
                .collect();
            for param in &in_path {
                if !path.contains(&format!("{{{param}}}")) {
                    out.push(format!(
                        "{name}: parameter `{param}` is `in: path` but the path has no \
                         `{{{param}}}` (an `IntoParams` without \
                         `#[into_params(parameter_in = Query)]`?)"
                    ));
                }
            }
            for var in template_vars(path) {
                if !in_path.contains(var) {
                    out.push(format!("{name}: `{{{var}}}` has no path parameter"));
                }
            }
        }
    }
    out
}

fn template_vars(path: &str) -> Vec<&str> {
    path.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(var, _)| var))
        .collect()
}

/// The operation of `path_item` for the method `METHODS[rank]`.
fn operation(
    schemas: &Schemas<'_>,
    path_item: &Value,
    path: &str,
    rank: usize,
    handlers: &[SourceFile],
    handlers_shown: &str,
) -> Result<Operation, String> {
    let method = METHODS[rank];
    let op = &path_item[method];
    let name = format!("{} {path}", method.to_ascii_uppercase());
    let Some(id) = op.get("operationId").and_then(Value::as_str) else {
        return Err(format!("{name}: no `operationId`"));
    };
    let location = find_handler(handlers, id).ok_or_else(|| {
        format!("{name}: handler `{id}` not found (no `async fn {id}(` in {handlers_shown})")
    })?;

    let text: Vec<&str> = ["summary", "description"]
        .iter()
        .filter_map(|key| op.get(*key).and_then(Value::as_str))
        .filter(|s| !s.trim().is_empty())
        .collect();
    let mut doc = DocComment::parse(&text.join("\n\n"));
    if doc.description.trim().is_empty() {
        return Err(format!(
            "{location}: `{name}` (handler `{id}`) has no doc comment summary"
        ));
    }
    let tags: Vec<&str> = op
        .get("tags")
        .and_then(Value::as_array)
        .map(|tags| tags.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    match tags.as_slice() {
        [] => {}
        [tag] => doc.description.push_str(&format!("\n\n*Tag: {tag}*")),
        _ => doc
            .description
            .push_str(&format!("\n\n*Tags: {}*", tags.join(", "))),
    }

    let params = parameters(schemas.doc, path_item, op).map_err(|e| format!("{name}: {e}"))?;
    let mut sections = Vec::new();
    if !params.is_empty() {
        sections.push(Section {
            label: "Parameters".to_owned(),
            body: params
                .iter()
                .map(|p| parameter_line(p))
                .collect::<Vec<_>>()
                .join("\n"),
        });
    }
    if let Some(body) = op.get("requestBody") {
        let body = schemas
            .request_body(body)
            .map_err(|e| format!("{name}: request body: {e}"))?;
        sections.push(Section {
            label: "Request body".to_owned(),
            body,
        });
    }
    if let Some(responses) = op.get("responses").and_then(Value::as_object)
        && !responses.is_empty()
    {
        let body = schemas
            .responses(responses)
            .map_err(|e| format!("{name}: responses: {e}"))?;
        sections.push(Section {
            label: "Responses".to_owned(),
            body,
        });
    }
    // The handler's own `# Errors` and the like follow the HTTP sections.
    sections.append(&mut doc.sections);
    doc.sections = sections;

    let query: Vec<&str> = params
        .iter()
        .filter(|p| p.get("in").and_then(Value::as_str) == Some("query"))
        .filter_map(|p| p.get("name").and_then(Value::as_str))
        .collect();
    let signature = if query.is_empty() {
        name.clone()
    } else {
        format!("{name}?{}=", query.join("=&"))
    };

    Ok(Operation {
        sort_key: (path.to_owned(), rank as u8),
        name,
        signature_lang: "http",
        signature,
        doc,
        location,
    })
}

/// `path:line` of the first `async fn <id>(` in `handlers`.
fn find_handler(handlers: &[SourceFile], id: &str) -> Option<String> {
    let needle = format!("async fn {id}(");
    handlers.iter().find_map(|(path, src)| {
        src.lines()
            .position(|line| line.contains(&needle))
            .map(|i| format!("{path}:{}", i + 1))
    })
}

/// The path item's parameters followed by the operation's, `$ref`s resolved;
/// an operation parameter replaces a path-level one of the same name and
/// place.
fn parameters<'a>(
    doc: &'a Value,
    path_item: &'a Value,
    op: &'a Value,
) -> Result<Vec<&'a Value>, String> {
    let list = |v: &'a Value| -> Result<Vec<&'a Value>, String> {
        v.get("parameters")
            .and_then(Value::as_array)
            .map(|ps| ps.iter().map(|p| resolve(doc, p).map(|(p, _)| p)).collect())
            .unwrap_or_else(|| Ok(Vec::new()))
    };
    let key = |p: &Value| (p.get("name").cloned(), p.get("in").cloned());
    let own = list(op)?;
    let mut all: Vec<&Value> = list(path_item)?
        .into_iter()
        .filter(|shared| !own.iter().any(|p| key(p) == key(shared)))
        .collect();
    all.extend(own);
    Ok(all)
}

/// `` - `name` (in, required): description ``.
fn parameter_line(param: &Value) -> String {
    let name = param.get("name").and_then(Value::as_str).unwrap_or("?");
    let place = param.get("in").and_then(Value::as_str).unwrap_or("?");
    let required = if param.get("required").and_then(Value::as_bool) == Some(true) {
        "required"
    } else {
        "optional"
    };
    with_description(
        format!("- `{name}` ({place}, {required})"),
        param.get("description"),
    )
}

/// `head: description` on one line, or `head` without a description.
fn with_description(head: String, description: Option<&Value>) -> String {
    match description.and_then(Value::as_str).map(one_line) {
        Some(d) if !d.is_empty() => format!("{head}: {d}"),
        _ => head,
    }
}

/// A description as one Markdown line (it goes into a list item).
fn one_line(text: &str) -> String {
    strip_links(&text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Follows `$ref` (local JSON pointers only) to the referenced value, with
/// the last referenced name.
fn resolve<'a>(
    doc: &'a Value,
    mut value: &'a Value,
) -> Result<(&'a Value, Option<&'a str>), String> {
    let mut name = None;
    for _ in 0..32 {
        let Some(target) = value.get("$ref").and_then(Value::as_str) else {
            return Ok((value, name));
        };
        value = target
            .strip_prefix('#')
            .and_then(|pointer| doc.pointer(pointer))
            .ok_or_else(|| format!("unresolvable `$ref` `{target}`"))?;
        name = Some(ref_name(target));
    }
    Err("`$ref` cycle".to_owned())
}

fn ref_name(target: &str) -> &str {
    target.rsplit('/').next().unwrap_or(target)
}

fn is_null_type(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("null")
}

/// A schema's type as shown in field lists, and whether it admits `null`
/// (`type: [T, "null"]`, a `null` variant of `oneOf`/`anyOf`, or OpenAPI
/// 3.0's `nullable`).
fn type_of(schema: &Value) -> (String, bool) {
    if let Some(target) = schema.get("$ref").and_then(Value::as_str) {
        return (ref_name(target).to_owned(), false);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(variants) = schema.get(key).and_then(Value::as_array) {
            let mut nullable = false;
            let mut names = Vec::new();
            for variant in variants {
                if is_null_type(variant) {
                    nullable = true;
                } else {
                    let (name, null) = type_of(variant);
                    nullable |= null;
                    names.push(name);
                }
            }
            return (names.join(" or "), nullable);
        }
    }
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
        return match parts.as_slice() {
            [one] => type_of(one),
            _ => ("object".to_owned(), false),
        };
    }
    let (types, mut nullable) = match schema.get("type") {
        Some(Value::String(t)) => (vec![t.as_str()], false),
        Some(Value::Array(ts)) => {
            let ts: Vec<&str> = ts.iter().filter_map(Value::as_str).collect();
            let nullable = ts.contains(&"null");
            (ts.into_iter().filter(|t| *t != "null").collect(), nullable)
        }
        _ => (Vec::new(), false),
    };
    nullable |= schema.get("nullable").and_then(Value::as_bool) == Some(true);
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        nullable |= values.iter().any(Value::is_null);
        let shown: Vec<String> = values
            .iter()
            .filter(|v| !v.is_null())
            .map(|v| match v.as_str() {
                Some(s) => format!("`{s}`"),
                None => format!("`{v}`"),
            })
            .collect();
        return (shown.join(" \\| "), nullable);
    }
    let names: Vec<String> = types
        .iter()
        .map(|t| match *t {
            "array" => {
                let items = schema.get("items").map(type_of);
                match items {
                    Some((item, false)) => format!("array of {item}"),
                    Some((item, true)) => format!("array of ({item} or null)"),
                    None => "array".to_owned(),
                }
            }
            "string" => schema
                .get("format")
                .and_then(Value::as_str)
                .unwrap_or("string")
                .to_owned(),
            other => other.to_owned(),
        })
        .collect();
    if names.is_empty() {
        let any = if schema.get("properties").is_some() {
            "object"
        } else {
            "any"
        };
        return (any.to_owned(), nullable);
    }
    (names.join(" or "), nullable)
}

/// Schema rendering against one document.
struct Schemas<'a> {
    doc: &'a Value,
    common_schemas: &'a [&'a str],
}

impl<'a> Schemas<'a> {
    /// The `**Request body:**` section: the schema's name and description,
    /// then its fields.
    fn request_body(&self, body: &'a Value) -> Result<String, String> {
        let (body, _) = resolve(self.doc, body)?;
        let optional = body.get("required").and_then(Value::as_bool) != Some(true);
        let (media, schema) = match pick_content(body) {
            Some(found) => found,
            None => {
                return Ok(with_description(
                    "(empty)".to_owned(),
                    body.get("description"),
                ));
            }
        };
        let mut head = match schema {
            Some(schema) => format!("`{}`", type_of(schema).0),
            None => String::new(),
        };
        if !is_json(media) {
            head = format!("{head} ({media})").trim_start().to_owned();
        }
        if optional {
            head.push_str(" (optional)");
        }
        let description = body.get("description").or_else(|| {
            let (schema, _) = resolve(self.doc, schema?).ok()?;
            schema.get("description")
        });
        let mut lines = vec![with_description(head, description)];
        if let Some(schema) = schema.filter(|_| is_json(media)) {
            self.top_fields(schema, 0, &mut lines)?;
        }
        Ok(lines.join("\n"))
    }

    /// The `**Responses:**` section: one item per status, with the body's
    /// schema name and fields for JSON bodies.
    fn responses(&self, responses: &'a serde_json::Map<String, Value>) -> Result<String, String> {
        let mut statuses: Vec<&String> = responses.keys().collect();
        // `default` goes last.
        statuses.sort_by_key(|s| (s.as_str() == "default", s.as_str()));
        let mut lines = Vec::new();
        for status in statuses {
            let (response, _) = resolve(self.doc, &responses[status])?;
            let own_description = response
                .get("description")
                .filter(|d| d.as_str().is_some_and(|d| !d.trim().is_empty()));
            let Some((media, schema)) = pick_content(response) else {
                lines.push(with_description(format!("- `{status}`"), own_description));
                continue;
            };
            let Some(schema) = schema.filter(|_| is_json(media)) else {
                lines.push(with_description(
                    format!("- `{status}` ({media})"),
                    own_description,
                ));
                continue;
            };
            let (name, _) = type_of(schema);
            let common = self.common_schemas.contains(&name.as_str());
            let description = own_description.or_else(|| {
                if common {
                    None
                } else {
                    resolve(self.doc, schema).ok()?.0.get("description")
                }
            });
            lines.push(with_description(
                format!("- `{status}` `{name}`"),
                description,
            ));
            if !common {
                self.top_fields(schema, 1, &mut lines)?;
            }
        }
        Ok(lines.join("\n"))
    }

    /// [`Self::fields`] of a body's schema, which is not expanded again
    /// within itself.
    fn top_fields(
        &self,
        schema: &'a Value,
        depth: usize,
        out: &mut Vec<String>,
    ) -> Result<(), String> {
        let (_, name) = resolve(self.doc, schema)?;
        let mut stack: Vec<&str> = name.into_iter().collect();
        self.fields(schema, depth, &mut stack, out)
    }

    /// Appends the fields of `schema` (an object, through `$ref`s and
    /// `allOf`s) as list items indented `depth` levels, each followed by the
    /// fields of the object it holds, if any. `stack` holds the schemas
    /// being expanded, so recursive schemas stop.
    fn fields(
        &self,
        schema: &'a Value,
        depth: usize,
        stack: &mut Vec<&'a str>,
        out: &mut Vec<String>,
    ) -> Result<(), String> {
        let mut properties = BTreeMap::new();
        let mut required = BTreeSet::new();
        self.collect_object(schema, &mut properties, &mut required, 0)?;
        let indent = "  ".repeat(depth);
        for (name, property) in properties {
            let (ty, nullable) = type_of(property);
            let presence = match (required.contains(name), nullable) {
                (true, false) => format!("{ty}, required"),
                (true, true) => format!("{ty} or null, required"),
                (false, _) => format!("{ty}, optional"),
            };
            let description = self.field_description(property)?;
            out.push(with_description(
                format!("{indent}- `{name}` ({presence})"),
                description,
            ));
            if let Some((inner, inner_name)) = self.object_within(property)?
                && depth < MAX_DEPTH
                && !inner_name.is_some_and(|n| stack.contains(&n))
            {
                if let Some(n) = inner_name {
                    stack.push(n);
                }
                self.fields(inner, depth + 1, stack, out)?;
                if inner_name.is_some() {
                    stack.pop();
                }
            }
        }
        Ok(())
    }

    /// A field's own description, else that of the schema it refers to
    /// (through a nullable union).
    fn field_description(&self, property: &'a Value) -> Result<Option<&'a Value>, String> {
        if let Some(own) = property.get("description") {
            return Ok(Some(own));
        }
        match non_null_variant(property) {
            Some(only) => self.field_description(only),
            None => Ok(resolve(self.doc, property)?.0.get("description")),
        }
    }

    /// Gathers the properties and required names of an object schema,
    /// merging `allOf` parts and following `$ref`s; a nullable union
    /// (`oneOf: [T, null]`) stands for its one other variant.
    fn collect_object(
        &self,
        schema: &'a Value,
        properties: &mut BTreeMap<&'a str, &'a Value>,
        required: &mut BTreeSet<&'a str>,
        level: usize,
    ) -> Result<(), String> {
        if level > 32 {
            return Err("schema nesting too deep (an `allOf` cycle?)".to_owned());
        }
        let (schema, _) = resolve(self.doc, schema)?;
        if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
            for part in parts {
                self.collect_object(part, properties, required, level + 1)?;
            }
        }
        if let Some(only) = non_null_variant(schema) {
            self.collect_object(only, properties, required, level + 1)?;
        }
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (name, property) in props {
                properties.insert(name.as_str(), property);
            }
        }
        if let Some(names) = schema.get("required").and_then(Value::as_array) {
            required.extend(names.iter().filter_map(Value::as_str));
        }
        Ok(())
    }

    /// The object schema a field holds, directly or as array items, with its
    /// component name when it is a `$ref`; `None` for scalars and objects
    /// without properties.
    fn object_within(
        &self,
        schema: &'a Value,
    ) -> Result<Option<(&'a Value, Option<&'a str>)>, String> {
        let (resolved, name) = resolve(self.doc, schema)?;
        if let Some(only) = non_null_variant(resolved) {
            return self.object_within(only);
        }
        let types = match resolved.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if types.contains(&"array") {
            return match resolved.get("items") {
                Some(items) => self.object_within(items),
                None => Ok(None),
            };
        }
        let has_fields = resolved.get("properties").is_some() || resolved.get("allOf").is_some();
        Ok(has_fields.then_some((resolved, name)))
    }
}

/// The one non-`null` variant of a `oneOf`/`anyOf` that also admits `null`.
fn non_null_variant(schema: &Value) -> Option<&Value> {
    ["oneOf", "anyOf"].iter().find_map(|key| {
        let variants = schema.get(*key)?.as_array()?;
        match variants
            .iter()
            .filter(|v| !is_null_type(v))
            .collect::<Vec<_>>()
            .as_slice()
        {
            [only] if variants.len() == 2 => Some(*only),
            _ => None,
        }
    })
}

/// The media type and schema of a request body or response: JSON when
/// offered, else the first media type by name.
fn pick_content(holder: &Value) -> Option<(&str, Option<&Value>)> {
    let content = holder.get("content")?.as_object()?;
    let media = content
        .keys()
        .find(|m| *m == "application/json")
        .or_else(|| content.keys().filter(|m| is_json(m)).min())
        .or_else(|| content.keys().min())?;
    Some((media.as_str(), content[media].get("schema")))
}

fn is_json(media: &str) -> bool {
    media == "application/json" || media.ends_with("+json")
}

#[cfg(test)]
#[allow(clippy::expect_used)] // A failed expectation is a failed test.
mod tests {
    use super::*;
    use crate::docs::{Target, render};

    const FIXTURE: &str = r##"{
  "openapi": "3.1.0",
  "info": {"title": "t", "version": "1"},
  "paths": {
    "/items/{id}": {
      "delete": {
        "tags": ["items"],
        "summary": "Delete an item.",
        "operationId": "delete_item",
        "parameters": [{"$ref": "#/components/parameters/ItemId"}],
        "responses": {"204": {}, "404": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}}
      },
      "patch": {
        "tags": ["items"],
        "summary": "Change an item; see [`Item`].",
        "description": "`null` clears the note.",
        "operationId": "patch_item",
        "parameters": [{"$ref": "#/components/parameters/ItemId"}],
        "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/PatchItem"}}}, "required": true},
        "responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}}}
      },
      "get": {
        "tags": ["items"],
        "summary": "One item.",
        "operationId": "get_item",
        "parameters": [
          {"$ref": "#/components/parameters/ItemId"},
          {"name": "expand", "in": "query", "description": "Include\nthe owner.", "required": false, "schema": {"type": ["boolean", "null"]}},
          {"name": "fields", "in": "query", "required": false, "schema": {"type": "string"}}
        ],
        "responses": {"200": {"description": "The item.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}}}
      }
    },
    "/items": {
      "post": {
        "tags": ["items", "admin"],
        "summary": "Create an item.",
        "operationId": "create_item",
        "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewItem"}}}, "required": true},
        "responses": {
          "409": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}},
          "201": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}},
          "400": {"description": "Invalid input.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
        }
      }
    },
    "/metrics": {
      "get": {
        "summary": "Metrics.",
        "operationId": "metrics",
        "responses": {"200": {"description": "Prometheus text", "content": {"text/plain": {"schema": {"type": "string"}}}}}
      }
    }
  },
  "components": {
    "parameters": {
      "ItemId": {"name": "id", "in": "path", "description": "Item id", "required": true, "schema": {"type": "string", "format": "uuid"}}
    },
    "schemas": {
      "ErrorBody": {
        "type": "object", "description": "An error.", "required": ["error", "message"],
        "properties": {"error": {"type": "string"}, "message": {"type": "string"}}
      },
      "Owner": {
        "type": "object", "description": "An owner.", "required": ["name"],
        "properties": {"name": {"type": "string", "description": "Name."}, "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}, "description": "Owned items."}}
      },
      "Item": {
        "type": "object", "description": "An item.", "required": ["id", "kind", "tags"],
        "properties": {
          "id": {"type": "string", "format": "uuid", "description": "Item id."},
          "kind": {"type": "string", "enum": ["a", "b"], "description": "Kind."},
          "note": {"type": ["string", "null"], "description": "A note."},
          "owner": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Owner", "description": "Owner, when expanded."}]},
          "tags": {"type": "array", "items": {"type": "string"}, "description": "Tags."}
        }
      },
      "NewItem": {
        "allOf": [
          {"$ref": "#/components/schemas/PatchItem"},
          {"type": "object", "required": ["kind"], "properties": {"kind": {"type": "string", "description": "Kind."}}}
        ],
        "description": "`{kind, note?}`."
      },
      "PatchItem": {
        "type": "object", "description": "`{note?}`.",
        "properties": {"note": {"type": ["string", "null"], "description": "A note\n(`null` clears it)."}}
      }
    }
  }
}"##;

    fn fixture() -> Value {
        serde_json::from_str(FIXTURE).expect("fixture is JSON")
    }

    fn handlers() -> Vec<SourceFile> {
        vec![
            (
                "src/routes/items.rs".to_owned(),
                "/// Create.\nasync fn create_item(s: S) {}\n\nasync fn get_item(\n    s: S,\n) {}\nasync fn patch_item_inner() {}\npub async fn patch_item(s: S) {}\nasync fn delete_item() {}\n".to_owned(),
            ),
            (
                "src/routes/ops.rs".to_owned(),
                "async fn metrics() {}\nasync fn get_item(\n".to_owned(),
            ),
        ]
    }

    #[test]
    fn renders_a_full_document() {
        let ops = operations(&fixture(), &handlers(), "src/routes/*.rs", &["ErrorBody"])
            .expect("fixture renders");
        let target = Target {
            output: "docs/reference/http.md",
            title: "test HTTP API",
            intro: "Intro.",
            sources: Vec::new(),
        };
        let doc = render(&target, ops).expect("renders");
        let expected = r#"<!-- AUTO-GENERATED. DO NOT EDIT. Run `cargo xtask docs` to regenerate. -->

# test HTTP API

Intro.

### POST /items

```http
POST /items
```

Create an item.

*Tags: items, admin*

**Request body:** `NewItem`: `{kind, note?}`.
- `kind` (string, required): Kind.
- `note` (string, optional): A note (`null` clears it).

**Responses:**
- `201` `Item`: An item.
  - `id` (uuid, required): Item id.
  - `kind` (`a` \| `b`, required): Kind.
  - `note` (string, optional): A note.
  - `owner` (Owner, optional): Owner, when expanded.
    - `items` (array of Item, optional): Owned items.
    - `name` (string, required): Name.
  - `tags` (array of string, required): Tags.
- `400` `ErrorBody`: Invalid input.
- `409` `ErrorBody`

*Source: src/routes/items.rs:2*

---

### GET /items/{id}

```http
GET /items/{id}?expand=&fields=
```

One item.

*Tag: items*

**Parameters:**
- `id` (path, required): Item id
- `expand` (query, optional): Include the owner.
- `fields` (query, optional)

**Responses:**
- `200` `Item`: The item.
  - `id` (uuid, required): Item id.
  - `kind` (`a` \| `b`, required): Kind.
  - `note` (string, optional): A note.
  - `owner` (Owner, optional): Owner, when expanded.
    - `items` (array of Item, optional): Owned items.
    - `name` (string, required): Name.
  - `tags` (array of string, required): Tags.

*Source: src/routes/items.rs:4*

---

### PATCH /items/{id}

```http
PATCH /items/{id}
```

Change an item; see `Item`.

`null` clears the note.

*Tag: items*

**Parameters:**
- `id` (path, required): Item id

**Request body:** `PatchItem`: `{note?}`.
- `note` (string, optional): A note (`null` clears it).

**Responses:**
- `200` `Item`: An item.
  - `id` (uuid, required): Item id.
  - `kind` (`a` \| `b`, required): Kind.
  - `note` (string, optional): A note.
  - `owner` (Owner, optional): Owner, when expanded.
    - `items` (array of Item, optional): Owned items.
    - `name` (string, required): Name.
  - `tags` (array of string, required): Tags.

*Source: src/routes/items.rs:8*

---

### DELETE /items/{id}

```http
DELETE /items/{id}
```

Delete an item.

*Tag: items*

**Parameters:**
- `id` (path, required): Item id

**Responses:**
- `204`
- `404` `ErrorBody`

*Source: src/routes/items.rs:9*

---

### GET /metrics

```http
GET /metrics
```

Metrics.

**Responses:**
- `200` (text/plain): Prometheus text

*Source: src/routes/ops.rs:1*

---
"#;
        assert_eq!(doc, expected);
    }

    #[test]
    fn missing_handlers_and_summaries_are_errors() {
        let mut doc = fixture();
        doc["paths"]["/items"]["post"]["summary"] = Value::String(" ".to_owned());
        let handlers = vec![(
            "src/routes/items.rs".to_owned(),
            "async fn create_item() {}\nasync fn get_item_x() {}\n".to_owned(),
        )];
        let err =
            operations(&doc, &handlers, "src/routes/*.rs", &[]).expect_err("problems are reported");
        assert_eq!(
            err,
            "src/routes/items.rs:1: `POST /items` (handler `create_item`) has no doc comment summary\n\
             GET /items/{id}: handler `get_item` not found (no `async fn get_item(` in src/routes/*.rs)\n\
             PATCH /items/{id}: handler `patch_item` not found (no `async fn patch_item(` in src/routes/*.rs)\n\
             DELETE /items/{id}: handler `delete_item` not found (no `async fn delete_item(` in src/routes/*.rs)\n\
             GET /metrics: handler `metrics` not found (no `async fn metrics(` in src/routes/*.rs)"
        );
    }

    #[test]
    fn unresolvable_refs_are_errors() {
        let mut doc = fixture();
        doc["components"]["schemas"]
            .as_object_mut()
            .expect("schemas")
            .remove("PatchItem");
        let err = operations(&doc, &handlers(), "src/routes/*.rs", &[])
            .expect_err("a dangling $ref is reported");
        assert_eq!(
            err,
            "POST /items: request body: unresolvable `$ref` `#/components/schemas/PatchItem`\n\
             PATCH /items/{id}: request body: unresolvable `$ref` `#/components/schemas/PatchItem`"
        );
    }

    #[test]
    fn path_parameters_outside_the_template_are_warned_about() {
        assert!(warnings(&fixture()).is_empty());
        let mut doc = fixture();
        doc["paths"]["/items/{id}"]["get"]["parameters"][1]["in"] = Value::String("path".into());
        doc["paths"]["/items/{id}"]["delete"]["parameters"] = Value::Array(Vec::new());
        assert_eq!(
            warnings(&doc),
            [
                "GET /items/{id}: parameter `expand` is `in: path` but the path has no `{expand}` (an `IntoParams` without `#[into_params(parameter_in = Query)]`?)",
                "DELETE /items/{id}: `{id}` has no path parameter",
            ]
        );
    }

    #[test]
    fn nullable_unions_and_arrays() {
        let cases = [
            (r#"{"type": ["integer", "null"]}"#, ("integer", true)),
            (
                r##"{"oneOf": [{"type": "null"}, {"$ref": "#/x/Y"}]}"##,
                ("Y", true),
            ),
            (
                r#"{"anyOf": [{"type": "string"}, {"type": "integer"}]}"#,
                ("string or integer", false),
            ),
            (
                r#"{"type": "array", "items": {"type": ["string", "null"]}}"#,
                ("array of (string or null)", false),
            ),
            (
                r#"{"type": "string", "format": "date-time", "nullable": true}"#,
                ("date-time", true),
            ),
            (r#"{}"#, ("any", false)),
        ];
        for (schema, (ty, nullable)) in cases {
            let schema: Value = serde_json::from_str(schema).expect("JSON");
            assert_eq!(type_of(&schema), (ty.to_owned(), nullable), "{schema}");
        }
    }
}
