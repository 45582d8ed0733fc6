//! The original product's walkthrough file (`bun-quickstart-walkthrough.json`,
//! `reference/seeds.md`): `{version, exportedAt, walkthrough: {title, description, type, status,
//! estimatedDurationMinutes, tags, metadata}, steps: [{title, contentFields, displayOrder}]}`.
//! Export writes it; import reads it — the original's files and our own exports — and names
//! the offending field (`steps[3].contentFields.contentForUser`) when something is wrong.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{
    StepContent, Walkthrough, WalkthroughDetails, WalkthroughKind, WalkthroughStatus,
    WalkthroughStep, parse_step_title,
};
use crate::ValidationError;

/// The one format version there is.
pub const FORMAT_VERSION: &str = "1.0";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    pub version: String,
    #[serde(default)]
    pub exported_at: Option<String>,
    pub walkthrough: DocumentWalkthrough,
    pub steps: Vec<DocumentStep>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentWalkthrough {
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(rename = "type")]
    pub kind: WalkthroughKind,
    /// A draft when not said.
    #[serde(default)]
    pub status: Option<WalkthroughStatus>,
    #[serde(default)]
    pub estimated_duration_minutes: Option<u32>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

/// A step; fields the original wrote that mean nothing here (`nextStepReference`) are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentStep {
    pub title: String,
    pub content_fields: StepContent,
    pub display_order: i64,
}

/// A file that cannot be imported, and where: a path like `steps[3].title` (empty for the
/// document as a whole).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ImportError {
    pub path: String,
    pub message: String,
}

impl ImportError {
    fn at(path: impl Into<String>, err: ValidationError) -> Self {
        Self { path: path.into(), message: err.message }
    }
}

/// A walkthrough read from a file, checked, with its steps in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub details: WalkthroughDetails,
    pub metadata: Map<String, Value>,
    /// Title and content of each step, in display order.
    pub steps: Vec<(String, StepContent)>,
}

/// Reads and checks a walkthrough file. Either all of it is acceptable or nothing is taken.
pub fn import(bytes: &[u8]) -> Result<Imported, ImportError> {
    let mut json = serde_json::Deserializer::from_slice(bytes);
    let document: Document = serde_path_to_error::deserialize(&mut json).map_err(|err| {
        // `.` is the document itself, `?` a syntax error before any field.
        let path = err.path().to_string();
        let path = if path == "." || path == "?" { String::new() } else { path };
        ImportError { path, message: err.into_inner().to_string() }
    })?;
    if document.version != FORMAT_VERSION {
        return Err(ImportError {
            path: "version".into(),
            message: format!(
                "unsupported version {:?}: this platform reads version {FORMAT_VERSION}",
                document.version
            ),
        });
    }
    let source = document.walkthrough;
    let details = WalkthroughDetails::new(
        &source.title,
        &source.description,
        source.kind,
        source.status.unwrap_or(WalkthroughStatus::Draft),
        source.estimated_duration_minutes,
        &source.tags,
    )
    .map_err(|err| ImportError::at(format!("walkthrough.{}", err.field), err))?;
    // Kept for export only, but stored with the walkthrough and read with it.
    if Value::Object(source.metadata.clone()).to_string().len() > MAX_METADATA_BYTES {
        return Err(ImportError {
            path: "walkthrough.metadata".into(),
            message: format!("must be at most {MAX_METADATA_BYTES} bytes of JSON"),
        });
    }
    if document.steps.len() > WalkthroughStep::MAX_STEPS {
        return Err(ImportError {
            path: "steps".into(),
            message: format!("must be at most {} steps", WalkthroughStep::MAX_STEPS),
        });
    }
    let mut steps = Vec::with_capacity(document.steps.len());
    for (index, step) in document.steps.into_iter().enumerate() {
        let title = parse_step_title(&step.title)
            .map_err(|err| ImportError::at(format!("steps[{index}].title"), err))?;
        let StepContent::V1(fields) = step.content_fields;
        let content = StepContent::v1(fields).map_err(|err| {
            ImportError::at(format!("steps[{index}].contentFields.{}", err.field), err)
        })?;
        steps.push((step.display_order, index, title, content));
    }
    // Display order decides; the file's order breaks ties.
    steps.sort_by_key(|(order, index, ..)| (*order, *index));
    Ok(Imported {
        details,
        metadata: source.metadata,
        steps: steps.into_iter().map(|(_, _, title, content)| (title, content)).collect(),
    })
}

/// The most JSON an imported walkthrough's `metadata` may hold.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;

/// The file of a walkthrough; `steps` in display order.
pub fn export(
    walkthrough: &Walkthrough,
    steps: &[WalkthroughStep],
    now: OffsetDateTime,
) -> Document {
    let details = &walkthrough.details;
    Document {
        version: FORMAT_VERSION.into(),
        exported_at: now.format(&Rfc3339).ok(),
        walkthrough: DocumentWalkthrough {
            title: details.title.clone(),
            description: details.description.clone(),
            kind: details.kind,
            status: Some(details.status),
            estimated_duration_minutes: details.estimated_minutes,
            tags: details.tags.clone(),
            metadata: walkthrough.metadata.clone(),
        },
        steps: steps
            .iter()
            .zip(0..)
            .map(|(step, order)| DocumentStep {
                title: step.title.clone(),
                content_fields: step.content.clone(),
                display_order: order,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn document() -> Value {
        json!({
            "version": "1.0",
            "exportedAt": "2025-09-09T00:00:00.000Z",
            "walkthrough": {
                "title": "Bun Quick Start Guide",
                "description": "Get going with Bun.",
                "type": "quickstart",
                "status": "published",
                "estimatedDurationMinutes": 20,
                "tags": ["bun", "quickstart"],
                "metadata": {"importedFrom": "https://bun.com/docs/quickstart"}
            },
            "steps": [
                {
                    "title": "Install",
                    "contentFields": {
                        "version": "v1",
                        "introductionForAgent": "Install Bun.",
                        "contextForAgent": "",
                        "contentForUser": "# Installing Bun",
                        "operationsForAgent": "Run the installer."
                    },
                    "displayOrder": 1,
                    "nextStepReference": 2
                },
                {
                    "title": "Introduction",
                    "contentFields": {"version": "v1", "contentForUser": "# Welcome", "operationsForAgent": "Say hello."},
                    "displayOrder": 0,
                    "nextStepReference": 1
                }
            ]
        })
    }

    fn import_value(value: &Value) -> Result<Imported, ImportError> {
        import(value.to_string().as_bytes())
    }

    #[test]
    fn the_original_format_imports_in_display_order() {
        let imported = import_value(&document()).unwrap();
        assert_eq!(imported.details.title, "Bun Quick Start Guide");
        assert_eq!(imported.details.kind, WalkthroughKind::Quickstart);
        assert_eq!(imported.details.status, WalkthroughStatus::Published);
        assert_eq!(imported.details.estimated_minutes, Some(20));
        assert_eq!(imported.metadata["importedFrom"], "https://bun.com/docs/quickstart");
        let titles: Vec<_> = imported.steps.iter().map(|(title, _)| title.as_str()).collect();
        assert_eq!(titles, ["Introduction", "Install"]);
        assert_eq!(imported.steps[1].1.fields().introduction_for_agent, "Install Bun.");
    }

    #[test]
    fn an_export_imports_back_to_the_same_walkthrough() {
        let imported = import_value(&document()).unwrap();
        let at = OffsetDateTime::UNIX_EPOCH;
        let walkthrough = Walkthrough {
            id: crate::ids::WalkthroughId::new(),
            organization_id: crate::ids::OrgId::new(),
            details: imported.details.clone(),
            metadata: imported.metadata.clone(),
            created_at: at,
            updated_at: at,
        };
        let steps: Vec<_> = imported
            .steps
            .iter()
            .zip(0..)
            .map(|((title, content), order)| WalkthroughStep {
                id: crate::ids::WalkthroughStepId::new(),
                walkthrough_id: walkthrough.id,
                title: title.clone(),
                content: content.clone(),
                display_order: order,
                created_at: at,
                updated_at: at,
            })
            .collect();
        let exported = serde_json::to_vec(&export(&walkthrough, &steps, at)).unwrap();
        assert_eq!(import(&exported).unwrap(), imported);
        let value: Value = serde_json::from_slice(&exported).unwrap();
        assert_eq!(value["exportedAt"], "1970-01-01T00:00:00Z");
        assert_eq!(value["steps"][1]["displayOrder"], 1);
        assert_eq!(value["steps"][1]["contentFields"]["version"], "v1");
    }

    #[test]
    fn errors_name_the_offending_field() {
        let path_of = |edit: &dyn Fn(&mut Value)| {
            let mut doc = document();
            edit(&mut doc);
            let err = import_value(&doc).unwrap_err();
            (err.path, err.message)
        };
        let (path, message) = path_of(&|d| d["version"] = json!("2.0"));
        assert_eq!(path, "version");
        assert!(message.contains("reads version 1.0"), "{message}");
        let (path, _) = path_of(&|d| {
            d["walkthrough"].as_object_mut().unwrap().remove("title");
        });
        assert_eq!(path, "walkthrough");
        let (path, message) = path_of(&|d| d["walkthrough"]["type"] = json!("novel"));
        assert_eq!(path, "walkthrough.type");
        assert!(message.contains("unknown variant"), "{message}");
        let (path, message) =
            path_of(&|d| d["walkthrough"]["metadata"] = json!({"blob": "x".repeat(20_000)}));
        assert_eq!(path, "walkthrough.metadata");
        assert!(message.contains("16384 bytes"), "{message}");
        let (path, _) = path_of(&|d| d["steps"][1]["title"] = json!("  "));
        assert_eq!(path, "steps[1].title");
        let (path, message) = path_of(&|d| {
            d["steps"][0]["contentFields"]["contentForUser"] =
                json!("x".repeat(StepContent::MAX_FIELD_CHARS + 1))
        });
        assert_eq!(path, "steps[0].contentFields.contentForUser");
        assert!(message.contains("at most 50000"), "{message}");
        let (path, message) = path_of(&|d| d["steps"][0]["contentFields"]["version"] = json!("v9"));
        assert!(path.starts_with("steps[0].contentFields"), "{path}");
        assert!(message.contains("v9"), "{message}");
        let (path, message) = path_of(&|d| {
            d["steps"][0]["contentFields"].as_object_mut().unwrap().remove("contentForUser");
        });
        assert!(path.starts_with("steps[0].contentFields"), "{path}");
        assert!(message.contains("contentForUser"), "{message}");
        let (path, _) = path_of(&|d| d["walkthrough"]["estimatedDurationMinutes"] = json!(-5));
        assert_eq!(path, "walkthrough.estimatedDurationMinutes");
        let (path, _) = path_of(&|d| {
            d["steps"] = Value::Array(vec![d["steps"][0].clone(); WalkthroughStep::MAX_STEPS + 1])
        });
        assert_eq!(path, "steps");
        let err = import(b"{not json").unwrap_err();
        assert_eq!(err.path, "");
    }
}
