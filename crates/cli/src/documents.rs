//! `baton doc upload|show|download|set-meta`: stored documents, which process data refers to
//! as `{"document": "ID"}`.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::{Map, Value};

use baton_api_model::Document;
use baton_service::Upload;

use crate::args::AS_HELP;
use crate::backend::Backend;
use crate::exit::{CliError, Result};
use crate::render;

#[derive(Subcommand)]
pub enum DocCmd {
    /// Store a file as a document (at most 10 MiB) and print its id; process data refers to
    /// it as {"document": "ID"}.
    Upload {
        /// The file.
        file: PathBuf,
        /// Its document type (e.g. invoice), which Stardust's mapping heuristics match on.
        #[arg(long = "type", value_name = "TYPE")]
        document_type: Option<String>,
        /// A metadata entry KEY=VALUE (VALUE is read as JSON if it is JSON, else as text); repeat for more.
        #[arg(long = "meta", value_name = "KEY=VALUE")]
        meta: Vec<String>,
        /// Its media type (default: from the file's extension, else application/octet-stream).
        #[arg(long)]
        content_type: Option<String>,
        /// Print the document's record as JSON, not only its id.
        #[arg(long)]
        json: bool,
    },
    /// Print a document's record: name, type, media type, size, SHA-256, version, metadata.
    Show {
        /// The document id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[arg(long = "as", value_name = "USER", help = AS_HELP)]
        by: Option<String>,
    },
    /// Write a document's content to a file (or to standard output).
    Download {
        /// The document id.
        id: String,
        /// The file to write (default: standard output).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        #[arg(long = "as", value_name = "USER", help = AS_HELP)]
        by: Option<String>,
    },
    /// Set metadata entries of a document (VALUE null removes KEY); its version goes up by one.
    SetMeta {
        /// The document id.
        id: String,
        /// Entries KEY=VALUE (VALUE is read as JSON if it is JSON, else as text).
        #[arg(required = true, value_name = "KEY=VALUE")]
        entries: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[arg(long = "as", value_name = "USER", help = AS_HELP)]
        by: Option<String>,
    },
}

pub async fn act(backend: &Backend, action: DocCmd) -> Result<u8> {
    match action {
        DocCmd::Upload {
            file,
            document_type,
            meta,
            content_type,
            json,
        } => {
            let content = std::fs::read(&file).map_err(|source| CliError::Io {
                what: format!("reading {}", file.display()),
                source,
            })?;
            let name = file.file_name().map_or_else(
                || "document".to_owned(),
                |n| n.to_string_lossy().into_owned(),
            );
            let content_type = content_type.unwrap_or_else(|| media_type(&file).to_owned());
            let upload = Upload {
                name,
                content_type,
                document_type,
                metadata: entries(&meta)?,
                content,
            };
            let document = backend.upload_document(upload).await?;
            if json {
                outln!("{}", render::json(&document));
            } else {
                outln!("{}", document.id);
            }
        }
        DocCmd::Show { id, json, by } => print(&backend.document(by.as_deref(), &id).await?, json),
        DocCmd::Download { id, output, by } => {
            let content = backend.document_content(by.as_deref(), &id).await?;
            match output {
                Some(path) => std::fs::write(&path, &content).map_err(|source| CliError::Io {
                    what: format!("writing {}", path.display()),
                    source,
                })?,
                None => {
                    use std::io::Write;
                    let mut stdout = std::io::stdout().lock();
                    stdout
                        .write_all(&content)
                        .and_then(|()| stdout.flush())
                        .map_err(|source| CliError::Io {
                            what: "writing standard output".into(),
                            source,
                        })?;
                }
            }
        }
        DocCmd::SetMeta {
            id,
            entries: given,
            json,
            by,
        } => print(
            &backend
                .set_document_metadata(by.as_deref(), &id, entries(&given)?)
                .await?,
            json,
        ),
    }
    Ok(0)
}

fn print(document: &Document, json: bool) {
    if json {
        outln!("{}", render::json(document));
        return;
    }
    let mut out = String::new();
    for (label, value) in [
        ("document", document.id.clone()),
        ("name", document.name.clone()),
        (
            "type",
            document.document_type.clone().unwrap_or_else(|| "-".into()),
        ),
        ("media type", document.content_type.clone()),
        ("size", format!("{} bytes", document.size)),
        ("sha256", document.sha256.clone()),
        (
            "created",
            format!(
                "{} by {}",
                document.created_at.format("%Y-%m-%d %H:%M:%S"),
                document.created_by
            ),
        ),
        (
            "version",
            format!(
                "{} (updated {})",
                document.version,
                document.updated_at.format("%Y-%m-%d %H:%M:%S")
            ),
        ),
    ] {
        out.push_str(&format!("{label:11} {value}\n"));
    }
    for (key, value) in &document.metadata {
        out.push_str(&format!("  {key} = {value}\n"));
    }
    out!("{out}");
}

/// `KEY=VALUE` entries as a metadata map: VALUE as JSON if it parses, else as text.
fn entries(given: &[String]) -> Result<Map<String, Value>> {
    let mut map = Map::new();
    for entry in given {
        let Some((key, value)) = entry.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(CliError::Input(format!(
                "`{entry}` is not KEY=VALUE (e.g. client=ACME or amount=120)"
            )));
        };
        let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
        map.insert(key.to_owned(), value);
    }
    Ok(map)
}

/// The media type of a file by its extension, for the common kinds of documents.
fn media_type(file: &Path) -> &'static str {
    let extension = file
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "tif" | "tiff" => "image/tiff",
        "txt" => "text/plain",
        "csv" => "text/csv",
        "html" | "htm" => "text/html",
        "json" => "application/json",
        "xml" => "application/xml",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}
