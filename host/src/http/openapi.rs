//! `GET /api`: the OpenAPI 3.0 definition of this server's API.

use super::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{json, Value};

fn op(summary: &str, id: &str, params: Value, responses: Value) -> Value {
    json!({"summary": summary, "operationId": id, "parameters": params, "responses": responses})
}

fn param(name: &str, location: &str, schema: Value, required: bool) -> Value {
    json!({"name": name, "in": location, "required": required, "schema": schema})
}

fn ok(description: &str, media: &str) -> Value {
    json!({"description": description, "content": {media: {"schema": {"type": "object"}}}})
}

/// A JSON document that browsers get as a page (`Accept: text/html`, or
/// `?f=html`; `?f=json` forces JSON, any other `f` is refused).
fn page(description: &str) -> Value {
    json!({"description": description, "content": {
        "application/json": {"schema": {"type": "object"}},
        "text/html": {"schema": {"type": "string"}}}})
}

/// `response` with OpenAPI links from `pointer` (a JSON pointer into its
/// body naming an object) to the operations on that object, so that tools
/// can follow what a response names.
fn linked(mut response: Value, parameter: &str, pointer: &str, operations: &[&str]) -> Value {
    let links: serde_json::Map<String, Value> = operations
        .iter()
        .map(|op| {
            let link = json!({"operationId": op, "parameters": {parameter: format!("$response.body#{pointer}")}});
            (op.to_string(), link)
        })
        .collect();
    response["links"] = Value::Object(links);
    response
}

/// The operations on one process, and on one job.
const ON_PROCESS: &[&str] = &[
    "getProcessDescription",
    "execute",
    "getPackage",
    "getVisibility",
    "setVisibility",
    "replace",
    "undeploy",
];
const ON_JOB: &[&str] = &["getStatus", "getResult", "getJobLog", "dismiss"];

fn problem(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/exception"}}}})
}

/// The definition, with `base` as the server URL.
pub fn document(base: &str) -> Value {
    let mut doc = operations(base);
    if let (Some(paths), Value::Object(more)) = (doc["paths"].as_object_mut(), billing()) {
        paths.extend(more);
    }
    // Any request may also be refused for its credentials (401), its rate
    // (429), its size or time (413, 431, 503), or fail (500): always as an
    // OGC exception.
    let any = problem("an OGC exception: bad credentials, over a limit, or a server error");
    for item in doc["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|p| p.values_mut())
    {
        for op in item
            .as_object_mut()
            .into_iter()
            .flat_map(|i| i.values_mut())
        {
            op["responses"]["default"] = any.clone();
        }
    }
    doc
}

fn operations(base: &str) -> Value {
    let id = param("id", "path", json!({"type": "string"}), true);
    let job_id = param("jobId", "path", json!({"type": "string"}), true);
    let tenant = param("tenant", "path", json!({"type": "string"}), true);
    let limit = param(
        "limit",
        "query",
        json!({"type": "integer", "minimum": 1}),
        false,
    );
    let offset = param(
        "offset",
        "query",
        json!({"type": "integer", "minimum": 0}),
        false,
    );
    // An RFC 3339 instant (days up to the 28th, so that every match is a
    // real date), or an interval of two, either end open (`..` or empty).
    let instant = r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])";
    let datetime = format!(r"^({instant}|({instant}|\.\.)?/({instant}|\.\.)?)$");
    let not_found = problem("not found");
    let package = json!({"$ref": "#/components/schemas/ogcapppkg"});
    let deploy_body = json!({
        "application/wasm": {"schema": {"type": "string", "format": "binary"}},
        "application/ogcapppkg+json": {"schema": package.clone()},
        "application/json": {"schema": package},
        "application/cwl": {"schema": {"type": "string"}},
        "application/cwl+json": {"schema": {"type": "object"}},
        "application/cwl+yaml": {"schema": {"type": "string"}}
    });
    json!({
        "openapi": "3.0.3",
        "info": {"title": "wades", "version": env!("CARGO_PKG_VERSION"),
                 "description": "OGC API - Processes (Part 1, and Part 2 deploy, replace, undeploy) with every job in a WebAssembly sandbox"},
        "servers": [{"url": base}],
        "paths": {
            "/": {"get": op("Landing page", "getLandingPage", json!([]), json!({"200": page("links to the API")}))},
            "/conformance": {"get": op("Conformance classes", "getConformanceClasses", json!([]), json!({"200": page("conformance classes")}))},
            "/api": {"get": op("This API definition", "getAPI", json!([]), json!({"200": ok("OpenAPI 3.0", "application/vnd.oai.openapi+json;version=3.0")}))},
            "/processes": {
                "get": op("List processes", "getProcesses", json!([limit, offset]), json!({"200": linked(page("process summaries"), "id", "/processes/0/id", ON_PROCESS), "400": problem("invalid limit or offset")})),
                "post": {
                    "summary": "Deploy a process (a WebAssembly component, a CWL document, or an application package naming one or a container image)",
                    "operationId": "deploy",
                    "parameters": [param("id", "query", json!({"type": "string"}), false),
                        param("w", "query", json!({"type": "string"}), false)],
                    "requestBody": {"required": true, "content": deploy_body.clone()},
                    "responses": {
                        "201": linked(ok("the deployed process's summary; Location names it", "application/json"), "id", "/id", ON_PROCESS),
                        "400": problem("invalid component or package, or no process `w` in the CWL document (workflow-not-found)"), "409": problem("duplicated process"),
                        "413": problem("component too large, or larger than the tenant's module quota"),
                        "415": problem("unsupported media type"),
                        "507": problem("the tenant's module quota is full")
                    }
                }
            },
            "/processes/{id}": {
                "get": op("Describe a process (as a page: with an execute form)", "getProcessDescription", json!([id]),
                    json!({"200": page("process description"), "404": not_found})),
                "put": {
                    "summary": "Replace a deployed process", "operationId": "replace", "parameters": [id],
                    "requestBody": {"required": true, "content": deploy_body},
                    "responses": {"204": {"description": "replaced"}, "400": problem("invalid component or package"),
                        "403": problem("immutable process"), "404": not_found, "413": problem("component too large"),
                        "415": problem("unsupported media type")}
                },
                "delete": op("Undeploy a process", "undeploy", json!([id]),
                    json!({"204": {"description": "undeployed"}, "403": problem("immutable process"), "404": not_found}))
            },
            "/processes/{id}/visibility": {
                "get": op("Who may see a deployed process (its owner only)", "getVisibility", json!([id]),
                    json!({"200": ok("the visibility", "application/json"), "403": problem("not the owner"), "404": not_found})),
                "put": {
                    "summary": "Set who may see a deployed process (its owner only)", "operationId": "setVisibility",
                    "parameters": [id],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/visibility"}}}},
                    "responses": {"204": {"description": "set"}, "400": problem("not a visibility"),
                        "403": problem("not the owner, or a built-in process"), "404": not_found}
                }
            },
            "/processes/{id}/package": {"get": op("The package a process was deployed with", "getPackage",
                json!([id, param("f", "query", json!({"type": "string", "enum": ["json", "wasm", "cwl"]}), false)]),
                json!({"200": {"description": "the package, or the component with Accept: application/wasm, or the CWL document with Accept: application/cwl",
                    "content": {"application/ogcapppkg+json": {}, "application/wasm": {}, "application/cwl": {}}}, "404": not_found}))},
            "/processes/{id}/execution": {"get": {
                "summary": "Execute a process with inputs in the query string (KVP): name=value (JSON-decoded unless the input is a string), name[href]/name[type], name[value]/name[mediaType], bbox name=x1,y1,x2,y2 with name-crs, out[include]/out[mediaType]",
                "operationId": "executeKvp",
                "parameters": [id,
                    param("f", "query", json!({"type": "string", "enum": ["json"]}), false),
                    param("prefer", "query", json!({"type": "string"}), false),
                    param("Prefer", "header", json!({"type": "string"}), false)],
                "responses": {
                    "200": {"description": "results (sync)", "content": {"application/json": {}, "multipart/related": {}, "*/*": {}}},
                    "201": linked(ok("job status (async); Location names the job", "application/json"), "jobId", "/jobID", ON_JOB),
                    "400": problem("invalid input"), "404": not_found,
                    "429": problem("a quota (queued or running jobs, the day's fuel) or the rate limit is used up; see Retry-After"),
                    "507": problem("the tenant's result storage quota is full")
                }
            }, "post": {
                "summary": "Execute a process", "operationId": "execute",
                "parameters": [id, param("Prefer", "header", json!({"type": "string"}), false)],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/execute"}}}},
                "responses": {
                    "200": {"description": "results (sync)", "content": {"application/json": {}, "multipart/related": {}, "*/*": {}}},
                    "201": linked(ok("job status (async); Location names the job", "application/json"), "jobId", "/jobID", ON_JOB),
                    "400": problem("invalid input"), "404": not_found, "413": problem("body too large"),
                    "429": problem("a quota (queued or running jobs, the day's fuel) or the rate limit is used up; see Retry-After"),
                    "507": problem("the tenant's result storage quota is full")
                }
            }},
            "/jobs": {"get": op("List jobs", "getJobs", json!([
                limit, offset,
                param("type", "query", json!({"type": "array", "items": {"type": "string"}}), false),
                param("processID", "query", json!({"type": "array", "items": {"type": "string"}}), false),
                param("status", "query", json!({"type": "array", "items": {"type": "string", "enum": ["accepted", "running", "successful", "failed", "dismissed"]}}), false),
                param("datetime", "query", json!({"type": "string", "pattern": datetime}), false),
                param("minDuration", "query", json!({"type": "number", "minimum": 0}), false),
                param("maxDuration", "query", json!({"type": "number", "minimum": 0}), false)
            ]), json!({"200": linked(page("job list"), "jobId", "/jobs/0/jobID", ON_JOB), "400": problem("an invalid parameter")}))},
            "/jobs/{jobId}": {
                "get": op("Job status (as a page: with results and log)", "getStatus", json!([job_id]), json!({"200": page("status info"), "404": not_found})),
                "delete": op("Dismiss a job", "dismiss", json!([job_id]), json!({"200": ok("status info", "application/json"), "404": not_found}))
            },
            "/jobs/{jobId}/results": {"get": op("Job results (as a page: the job's)", "getResult", json!([job_id]),
                json!({"200": page("results document"), "404": not_found}))},
            "/jobs/{jobId}/results/{outputId}": {"get": op("One output of a job", "getResultOutput",
                json!([job_id, param("outputId", "path", json!({"type": "string"}), true)]),
                json!({"200": {"description": "the output, raw", "content": {"*/*": {}}}, "404": not_found}))},
            "/jobs/{jobId}/logs": {"get": op("Log of a job", "getJobLog", json!([job_id]),
                json!({"200": {"description": "log lines", "content": {"text/plain": {}}}, "404": not_found}))},
            "/admin/tenants/{tenant}/quota": {
                "get": op("A tenant's own quota and the quota in force (admins only)", "getTenantQuota", json!([tenant.clone()]),
                    json!({"200": ok("{tenant, quota, effective}", "application/json"), "403": problem("not an admin")})),
                "put": {
                    "summary": "Set a tenant's own quota; members left out follow the server's [quotas] (admins only)",
                    "operationId": "setTenantQuota", "parameters": [tenant.clone()],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/quota"}}}},
                    "responses": {"200": ok("{tenant, quota, effective}", "application/json"),
                        "400": problem("not a quota"), "403": problem("not an admin")}
                },
                "delete": op("Drop a tenant's own quota (admins only)", "deleteTenantQuota", json!([tenant]),
                    json!({"204": {"description": "the server's defaults apply"}, "403": problem("not an admin")}))
            }
        },
        "security": [{}, {"bearer": []}],
        "components": {
          "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
            "description": "an API key (wades_…) from `wades key create`, or an OIDC access token (JWT) if the server trusts an issuer"}},
          "schemas": {
            "quota": {"type": "object", "additionalProperties": false, "properties": {
                "max_running": {"type": "integer", "nullable": true, "minimum": 0},
                "max_queued": {"type": "integer", "nullable": true, "minimum": 0},
                "fuel_per_job": {"type": "integer", "nullable": true, "minimum": 0},
                "fuel_per_day": {"type": "integer", "nullable": true, "minimum": 0},
                "memory_per_job": {"type": "integer", "nullable": true, "minimum": 0},
                "module_bytes": {"type": "integer", "nullable": true, "minimum": 0},
                "result_bytes": {"type": "integer", "nullable": true, "minimum": 0}}},
            "visibility": {"oneOf": [
                {"type": "object", "required": ["visibility"], "properties": {
                    "visibility": {"type": "string", "enum": ["private", "public"]}}},
                {"type": "object", "required": ["visibility", "tenants"], "properties": {
                    "visibility": {"type": "string", "enum": ["shared"]},
                    "tenants": {"type": "array", "items": {"type": "string"}}}}]},
            "exception": {"type": "object", "required": ["type"], "properties": {
                "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                "detail": {"type": "string"}, "instance": {"type": "string"}}},
            "ogcapppkg": {"type": "object", "required": ["executionUnit"], "properties": {
                "processDescription": {"type": "object"},
                "executionUnit": {"oneOf": [
                    {"$ref": "#/components/schemas/executionUnit"},
                    {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/executionUnit"}},
                    {"type": "string", "pattern": "^sha256:[0-9a-f]{64}$"}]}}},
            "executionUnit": {
                "description": "a WebAssembly component: inline (base64 `value`), by `href`, or by the `digest` of one stored here",
                "type": "object", "anyOf": [{"required": ["value"]}, {"required": ["href"]}, {"required": ["digest"]}],
                "properties": {
                    "value": {"type": "string", "format": "byte"},
                    "encoding": {"type": "string", "enum": ["base64"]},
                    "href": {"type": "string", "format": "uri"},
                    "digest": {"type": "string", "pattern": "^sha256:[0-9a-f]{64}$"},
                    "type": {"type": "string", "enum": ["wasm", "application/wasm"]},
                    "mediaType": {"type": "string", "enum": ["application/wasm"]}}},
            "execute": {"type": "object", "properties": {
                "inputs": {"type": "object", "additionalProperties": true},
                "outputs": {"type": "object", "additionalProperties": true},
                "response": {"type": "string", "enum": ["raw", "document"]},
                "subscriber": {"type": "object"}}}
        }}
    })
}

/// The quotation and billing paths (Testbed-14).
fn billing() -> Value {
    let id = param("id", "path", json!({"type": "string"}), true);
    let quotation = param("quotationId", "path", json!({"type": "string"}), true);
    let bill = param("billId", "path", json!({"type": "string"}), true);
    let page = [
        param(
            "limit",
            "query",
            json!({"type": "integer", "minimum": 1}),
            false,
        ),
        param(
            "offset",
            "query",
            json!({"type": "integer", "minimum": 0}),
            false,
        ),
    ];
    let not_found = problem("no such process, quotation or bill (or not the caller's)");
    let execute_body = json!({"required": false, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/execute"}}}});
    let executed = json!({
        "200": {"description": "results (sync)", "content": {"application/json": {}, "multipart/related": {}, "*/*": {}}},
        "201": ok("job status (async); Location names the job", "application/json"),
        "400": problem("invalid input"), "404": not_found.clone(),
        "409": problem("the quotation was executed already (quotation-executed)"),
        "410": problem("the quotation expired (quotation-expired)"),
        "429": problem("a quota or the rate limit is used up; the quotation stays executable"),
        "500": problem("the job failed, e.g. out of fuel within its budget")
    });
    let execute = |op_id: &str, params: Value| {
        json!({
            "summary": "Execute a quotation, under its fuel budget; an execute request in the body may replace its inputs, outputs and response form",
            "operationId": op_id, "parameters": params, "requestBody": execute_body.clone(), "responses": executed.clone()
        })
    };
    let prefer = param("Prefer", "header", json!({"type": "string"}), false);
    json!({
        "/processes/{id}/quotations": {
            "get": op("The caller's quotations of a process", "getProcessQuotations",
                json!([id.clone(), page[0].clone(), page[1].clone()]),
                json!({"200": ok("{quotations, links}", "application/json"), "400": problem("invalid limit or offset"), "404": not_found.clone()})),
            "post": {
                "summary": "Ask for a quotation: the price of an execute request, from the process's history or a capped dry run",
                "operationId": "requestQuotation",
                "parameters": [id.clone(), param("dryRun", "query", json!({"type": "boolean"}), false)],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/execute"}}}},
                "responses": {"201": ok("the quotation; Location names it", "application/json"),
                    "400": problem("invalid input, or inputs that cannot be quoted (the dry run failed or ran out of fuel)"),
                    "404": not_found.clone()}
            }
        },
        "/processes/{id}/quotations/{quotationId}": {
            "get": op("A quotation of a process", "getProcessQuotation", json!([id.clone(), quotation.clone()]),
                json!({"200": ok("the quotation", "application/json"), "404": not_found.clone()})),
            "post": execute("executeProcessQuotation", json!([id, quotation.clone(), prefer.clone()]))
        },
        "/quotations": {"get": op("The caller's quotations (an admin's: everyone's)", "getQuotations",
            json!([page[0].clone(), page[1].clone()]),
            json!({"200": ok("{quotations, links}", "application/json"), "400": problem("invalid limit or offset")}))},
        "/quotations/{quotationId}": {
            "get": op("A quotation", "getQuotation", json!([quotation.clone()]),
                json!({"200": ok("the quotation", "application/json"), "404": not_found.clone()})),
            "post": execute("executeQuotation", json!([quotation, prefer]))
        },
        "/bills": {"get": op("The caller's bills (an admin's: everyone's) and their totals per tenant", "getBills",
            json!([page[0].clone(), page[1].clone()]),
            json!({"200": ok("{bills, totals, links}", "application/json"), "400": problem("invalid limit or offset")}))},
        "/bills/{billId}": {"get": op("A bill: what a quoted job used, and its price", "getBill", json!([bill]),
            json!({"200": ok("the bill", "application/json"), "404": not_found}))}
    })
}

/// `GET /api`.
pub async fn api(State(app): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/vnd.oai.openapi+json;version=3.0",
        )],
        document(&app.base).to_string(),
    )
}
