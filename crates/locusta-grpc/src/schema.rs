//! Messages from a `.proto` read at run time: no generated code and no `protoc`. The `.proto`
//! files are compiled by `protox` (a `.proto` compiler in Rust) or read from a descriptor set
//! (`protoc --descriptor_set_out`, `buf build -o`), and `prost-reflect` turns JSON into request
//! messages and response messages back into JSON with protobuf's JSON mapping.

use std::path::Path;

use bytes::Bytes;
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor, SerializeOptions};

use crate::status::{Code, Status};

/// Why a schema could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// A `.proto` file could not be read or compiled.
    #[error("cannot compile {files}: {message}")]
    Compile {
        /// The files asked for.
        files: String,
        /// What the compiler said (file, line and what is wrong).
        message: String,
    },
    /// A descriptor set file could not be read or decoded.
    #[error("cannot load the descriptor set {path}: {message}")]
    DescriptorSet {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
}

/// The services and messages of a set of `.proto` files.
#[derive(Debug, Clone)]
pub struct Schema {
    pool: DescriptorPool,
}

/// A method of a schema's service: what it takes, what it returns, whether it streams.
#[derive(Debug, Clone)]
pub struct Method {
    descriptor: MethodDescriptor,
}

impl Schema {
    /// Compiles `files` (found in `includes`, or as given when `includes` is empty) and
    /// everything they import.
    pub fn from_proto_files(
        files: &[impl AsRef<Path>],
        includes: &[impl AsRef<Path>],
    ) -> Result<Schema, SchemaError> {
        let names = files
            .iter()
            .map(|f| f.as_ref().display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let fail = |e: protox::Error| SchemaError::Compile {
            files: names.clone(),
            message: e.to_string(),
        };
        let pool = if includes.is_empty() {
            // each file relative to its own directory, as protoc does with -I of that directory
            let dirs: Vec<&Path> = files
                .iter()
                .map(|f| f.as_ref().parent().unwrap_or(Path::new(".")))
                .map(|d| {
                    if d.as_os_str().is_empty() {
                        Path::new(".")
                    } else {
                        d
                    }
                })
                .collect();
            let mut compiler = protox::Compiler::new(dirs).map_err(fail)?;
            compiler.include_imports(true);
            compiler.open_files(files).map_err(fail)?;
            compiler.descriptor_pool()
        } else {
            let mut compiler = protox::Compiler::new(includes).map_err(fail)?;
            compiler.include_imports(true);
            compiler.open_files(files).map_err(fail)?;
            compiler.descriptor_pool()
        };
        Ok(Schema { pool })
    }

    /// Compiles one `.proto` given as text (`name` is how errors and imports refer to it); it
    /// may import only the well-known types (`google/protobuf/*.proto`).
    pub fn from_proto_source(name: &str, source: &str) -> Result<Schema, SchemaError> {
        let fail = |message: String| SchemaError::Compile {
            files: name.to_string(),
            message,
        };
        let file =
            protox::file::File::from_source(name, source).map_err(|e| fail(e.to_string()))?;
        let resolver = protox::file::ChainFileResolver::new();
        let mut resolver = resolver;
        resolver.add(OneFile(file));
        resolver.add(protox::file::GoogleFileResolver::new());
        let mut compiler = protox::Compiler::with_file_resolver(resolver);
        compiler.include_imports(true);
        compiler.open_file(name).map_err(|e| fail(e.to_string()))?;
        Ok(Schema {
            pool: compiler.descriptor_pool(),
        })
    }

    /// Reads a serialized `FileDescriptorSet` (`protoc --include_imports --descriptor_set_out`).
    pub fn from_descriptor_set_file(path: impl AsRef<Path>) -> Result<Schema, SchemaError> {
        let shown = path.as_ref().display().to_string();
        let bytes = std::fs::read(path.as_ref()).map_err(|e| SchemaError::DescriptorSet {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let pool =
            DescriptorPool::decode(bytes.as_slice()).map_err(|e| SchemaError::DescriptorSet {
                path: shown,
                message: format!("{e} (was it written with --include_imports?)"),
            })?;
        Ok(Schema { pool })
    }

    /// The method `package.Service/Method` (a leading `/` is allowed).
    pub fn method(&self, name: &str) -> Result<Method, Status> {
        let path = crate::call::method_path(name)?;
        let (service, method) = path[1..].split_once('/').unwrap_or_default();
        let Some(svc) = self.pool.get_service_by_name(service) else {
            let known: Vec<String> = self
                .pool
                .services()
                .map(|s| s.full_name().to_string())
                .collect();
            return Err(Status::new(
                Code::Unimplemented,
                format!(
                    "no service {service:?} in the schema (it has: {})",
                    known.join(", ")
                ),
            ));
        };
        let found = svc.methods().find(|m| m.name() == method);
        match found {
            Some(descriptor) => Ok(Method { descriptor }),
            None => {
                let known: Vec<String> = svc.methods().map(|m| m.name().to_string()).collect();
                Err(Status::new(
                    Code::Unimplemented,
                    format!(
                        "service {service} has no method {method:?} (it has: {})",
                        known.join(", ")
                    ),
                ))
            }
        }
    }

    /// Every method of every service, as `package.Service/Method`.
    pub fn method_names(&self) -> Vec<String> {
        self.pool
            .services()
            .flat_map(|s| {
                s.methods()
                    .map(|m| format!("{}/{}", s.full_name(), m.name()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

/// A resolver that knows one file given as text.
struct OneFile(protox::file::File);

impl protox::file::FileResolver for OneFile {
    fn open_file(&self, name: &str) -> Result<protox::file::File, protox::Error> {
        if name == self.0.name() {
            Ok(self.0.clone())
        } else {
            Err(protox::Error::file_not_found(name))
        }
    }
}

impl Method {
    /// `/package.Service/Method`.
    pub fn path(&self) -> String {
        format!(
            "/{}/{}",
            self.descriptor.parent_service().full_name(),
            self.descriptor.name()
        )
    }

    /// Whether the server answers with a stream of messages.
    pub fn is_server_streaming(&self) -> bool {
        self.descriptor.is_server_streaming()
    }

    /// Whether the client sends a stream (not supported by this client).
    pub fn is_client_streaming(&self) -> bool {
        self.descriptor.is_client_streaming()
    }

    /// The request message for `json` (protobuf's JSON mapping: field names in lowerCamelCase
    /// or as in the `.proto`), encoded.
    pub fn encode_request(&self, json: &serde_json::Value) -> Result<Bytes, Status> {
        let desc = self.descriptor.input();
        let msg = DynamicMessage::deserialize(desc.clone(), json).map_err(|e| {
            Status::new(
                Code::InvalidArgument,
                format!("the request is not a valid {}: {e}", desc.full_name()),
            )
        })?;
        Ok(Bytes::from(msg.encode_to_vec()))
    }

    /// A response message decoded into JSON (fields named as in the `.proto`, defaults
    /// left out, 64-bit integers as JSON numbers would lose precision, so as strings).
    pub fn decode_response(&self, bytes: &[u8]) -> Result<serde_json::Value, Status> {
        let desc = self.descriptor.output();
        let msg = DynamicMessage::decode(desc.clone(), bytes).map_err(|e| {
            Status::new(
                Code::Internal,
                format!("the response is not a valid {}: {e}", desc.full_name()),
            )
        })?;
        let options = SerializeOptions::new().use_proto_field_name(true);
        msg.serialize_with_options(serde_json::value::Serializer, &options)
            .map_err(|e| Status::new(Code::Internal, format!("response to JSON: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROTO: &str = r#"
        syntax = "proto3";
        package t;
        service S {
          rpc Get (Req) returns (Res);
          rpc List (Req) returns (stream Res);
        }
        message Req { int32 id = 1; string note_text = 2; }
        message Res { int32 id = 1; int64 price_cents = 2; }
    "#;

    #[test]
    fn json_in_and_out_through_a_proto_given_as_text() {
        let schema = Schema::from_proto_source("t.proto", PROTO);
        let schema = schema.map_err(|e| e.to_string());
        let Ok(schema) = schema else {
            panic!("{schema:?}");
        };
        assert_eq!(schema.method_names(), vec!["t.S/Get", "t.S/List"]);
        let get = schema.method("t.S/Get");
        let Ok(get) = get else { panic!("{get:?}") };
        assert!(!get.is_server_streaming());
        assert!(schema
            .method("/t.S/List")
            .is_ok_and(|m| m.is_server_streaming()));
        let bytes = get.encode_request(&serde_json::json!({"id": 7, "noteText": "x"}));
        // field 1 varint 7, field 2 string "x"
        assert_eq!(bytes.ok().as_deref(), Some(&[8u8, 7, 18, 1, b'x'][..]));
        let bad = get.encode_request(&serde_json::json!({"nope": 1}));
        assert!(bad.is_err_and(|s| s.code == Code::InvalidArgument && s.message.contains("t.Req")));
        let json = get.decode_response(&[8, 3, 16, 250, 1]);
        assert_eq!(
            json.ok(),
            Some(serde_json::json!({"id": 3, "price_cents": "250"}))
        );
    }

    #[test]
    fn unknown_services_and_methods_name_what_exists() {
        let Ok(schema) = Schema::from_proto_source("t.proto", PROTO) else {
            panic!("compiles");
        };
        let e = schema
            .method("t.X/Get")
            .err()
            .map(|s| s.message)
            .unwrap_or_default();
        assert!(e.contains("it has: t.S"), "{e}");
        let e = schema
            .method("t.S/Nope")
            .err()
            .map(|s| s.message)
            .unwrap_or_default();
        assert!(e.contains("Get, List"), "{e}");
    }

    #[test]
    fn compile_errors_say_where() {
        let e = Schema::from_proto_source("bad.proto", "syntax = \"proto3\"; message {");
        let text = e.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains("bad.proto"), "{text}");
        let e = Schema::from_descriptor_set_file("/nonexistent/set.bin");
        assert!(e.is_err_and(|e| e.to_string().contains("/nonexistent/set.bin")));
    }
}
