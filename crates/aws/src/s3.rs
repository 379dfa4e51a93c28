//! S3 through the AWS SDK: the client (default credential chain, `AWS_ENDPOINT_URL`),
//! and [`S3Storage`], a dataset in S3 behind the same [`Storage`] interface as a local
//! folder.
//!
//! The pipeline is synchronous; S3 calls are made on a Tokio runtime through its
//! [`Handle`], so the pipeline must run outside the runtime's worker threads (on the
//! main thread of the CLI, or in `spawn_blocking` in the Lambda).
//!
//! Input objects are read within [`S3::input_limits`]: their size is known from the
//! GET's headers before any byte is read, so an object over the limit is never
//! downloaded, and a large one is read as it downloads ([`BodyReader`]), never held
//! whole.

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use sessiontrail_correlate::storage::{Storage, StorageError, Stored};
use sessiontrail_ingest::InputLimits;
use tokio::runtime::Handle;

use crate::s3_url::S3Url;

/// Attempts per S3 call (the SDK's standard retry: throttling, 5xx and transient
/// network errors, with exponential backoff and jitter).
pub const S3_ATTEMPTS: u32 = 6;

/// Loads the AWS configuration the way the AWS CLI does: environment, shared config and
/// credentials files (SSO profiles included), container and instance metadata.
/// `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` point clients at another endpoint.
pub async fn load_aws_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(S3_ATTEMPTS))
        .load()
        .await
}

/// An S3 client; against a custom endpoint (MinIO, moto) it addresses buckets by path.
pub fn s3_client(config: &aws_config::SdkConfig) -> Client {
    let custom_endpoint = std::env::var_os("AWS_ENDPOINT_URL_S3").is_some()
        || std::env::var_os("AWS_ENDPOINT_URL").is_some()
        || config.endpoint_url().is_some();
    let s3_config = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(custom_endpoint)
        .build();
    Client::from_conf(s3_config)
}

/// The S3 calls sessiontrail makes, callable from synchronous code.
#[derive(Debug, Clone)]
pub struct S3 {
    pub client: Client,
    pub runtime: Handle,
    /// What reading an input object may cost: `max_object_bytes` (default 2 GiB as
    /// stored) makes a larger object a reject naming it and its size, never downloaded.
    pub input_limits: InputLimits,
}

/// An AWS SDK error in one line: the service's code and message with the HTTP status,
/// or the whole chain of causes for errors that never reached the service.
pub fn sdk_error_text<E>(err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match (err.code(), err.raw_response()) {
        (Some(code), Some(response)) => format!(
            "{code}: {} (HTTP {})",
            err.message().unwrap_or("no message"),
            response.status().as_u16()
        ),
        _ => DisplayErrorContext(err).to_string(),
    }
}

fn remote<E>(url: &S3Url, err: SdkError<E, HttpResponse>) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    StorageError::Remote {
        location: url.to_string(),
        message: sdk_error_text(&err),
    }
}

fn body_error(url: &S3Url, err: impl std::error::Error) -> StorageError {
    StorageError::Remote {
        location: url.to_string(),
        message: DisplayErrorContext(err).to_string(),
    }
}

impl S3 {
    pub fn new(client: Client, runtime: Handle) -> Self {
        S3 {
            client,
            runtime,
            input_limits: InputLimits::default(),
        }
    }

    /// The same client with other input limits (the Lambda's configuration, tests).
    pub fn with_input_limits(mut self, input_limits: InputLimits) -> Self {
        self.input_limits = input_limits;
        self
    }

    /// An object's size (Content-Length, when S3 sent one) and its body, not yet read;
    /// None when there is no such key.
    pub async fn get_body(
        &self,
        url: &S3Url,
    ) -> Result<Option<(Option<u64>, ByteStream)>, StorageError> {
        let response = self
            .client
            .get_object()
            .bucket(&url.bucket)
            .key(&url.key)
            .send()
            .await;
        match response {
            Ok(output) => {
                let size = output.content_length().and_then(|n| u64::try_from(n).ok());
                Ok(Some((size, output.body)))
            }
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => Ok(None),
            Err(err) => Err(remote(url, err)),
        }
    }

    /// All of a body.
    pub async fn collect_body(url: &S3Url, body: ByteStream) -> Result<Vec<u8>, StorageError> {
        Ok(body
            .collect()
            .await
            .map_err(|err| body_error(url, err))?
            .to_vec())
    }

    /// The object's bytes and ETag, or None when there is no such key.
    pub async fn get(&self, url: &S3Url) -> Result<Option<Stored>, StorageError> {
        let response = self
            .client
            .get_object()
            .bucket(&url.bucket)
            .key(&url.key)
            .send()
            .await;
        let output = match response {
            Ok(output) => output,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Ok(None);
            }
            Err(err) => return Err(remote(url, err)),
        };
        let version = output.e_tag().unwrap_or_default().to_string();
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|err| body_error(url, err))?
            .to_vec();
        Ok(Some(Stored { bytes, version }))
    }

    /// PUT, optionally conditional: `Some(None)` only if absent (If-None-Match: *),
    /// `Some(Some(etag))` only if still at that ETag (If-Match). False when the
    /// precondition failed (412) or a concurrent conditional write won (409).
    pub async fn put(
        &self,
        url: &S3Url,
        bytes: &[u8],
        condition: Option<Option<&str>>,
    ) -> Result<bool, StorageError> {
        let mut request = self
            .client
            .put_object()
            .bucket(&url.bucket)
            .key(&url.key)
            .body(ByteStream::from(bytes.to_vec()));
        match condition {
            Some(None) => request = request.if_none_match("*"),
            Some(Some(etag)) => request = request.if_match(etag),
            None => {}
        }
        match request.send().await {
            Ok(_) => Ok(true),
            Err(err)
                if condition.is_some()
                    && matches!(
                        err.code(),
                        Some("PreconditionFailed" | "ConditionalRequestConflict")
                    ) =>
            {
                Ok(false)
            }
            Err(err) => Err(remote(url, err)),
        }
    }

    /// Whether an object exists at exactly this key (HEAD).
    pub async fn get_exists(&self, url: &S3Url) -> Result<bool, StorageError> {
        match self
            .client
            .head_object()
            .bucket(&url.bucket)
            .key(&url.key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(false),
            Err(err) => Err(remote(url, err)),
        }
    }

    pub async fn delete(&self, url: &S3Url) -> Result<(), StorageError> {
        self.client
            .delete_object()
            .bucket(&url.bucket)
            .key(&url.key)
            .send()
            .await
            .map(drop)
            .map_err(|err| remote(url, err))
    }

    /// Every key under `prefix` (paginated), sorted.
    pub async fn list(&self, url: &S3Url) -> Result<Vec<String>, StorageError> {
        Ok(self.list_pages(url, None).await?.0)
    }

    /// The common prefixes directly under `url` (a folder prefix ending in `/`), as full
    /// prefixes ending in `/`, sorted.
    pub async fn list_folders(&self, url: &S3Url) -> Result<Vec<String>, StorageError> {
        Ok(self.list_pages(url, Some("/")).await?.1)
    }

    /// ListObjectsV2 over every page: (keys, common prefixes), each sorted.
    async fn list_pages(
        &self,
        url: &S3Url,
        delimiter: Option<&str>,
    ) -> Result<(Vec<String>, Vec<String>), StorageError> {
        let (mut keys, mut folders) = (Vec::new(), Vec::new());
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&url.bucket)
            .prefix(&url.key)
            .set_delimiter(delimiter.map(str::to_string))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| remote(url, err))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
            folders.extend(
                page.common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix().map(str::to_string)),
            );
        }
        keys.sort();
        folders.sort();
        Ok((keys, folders))
    }
}

/// An object's body as a blocking reader, for a thread outside the runtime's workers
/// (`spawn_blocking`): each read waits for the next chunk of the download, so the
/// object is never held whole. An error of the download is a read error, and is also
/// kept ([`BodyReader::failure`]) so the caller can fail the read as a whole (and have
/// it retried) instead of rejecting what the network cut.
pub struct BodyReader {
    body: ByteStream,
    runtime: Handle,
    location: String,
    chunk: Vec<u8>,
    at: usize,
    failure: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl BodyReader {
    pub fn new(url: &S3Url, body: ByteStream, runtime: Handle) -> Self {
        BodyReader {
            body,
            runtime,
            location: url.to_string(),
            chunk: Vec::new(),
            at: 0,
            failure: Default::default(),
        }
    }

    /// Where the download's error, if any, will be told.
    pub fn failure(&self) -> std::sync::Arc<std::sync::Mutex<Option<String>>> {
        std::sync::Arc::clone(&self.failure)
    }
}

impl std::io::Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at >= self.chunk.len() {
            match self.runtime.block_on(self.body.next()) {
                None => return Ok(0),
                Some(Ok(bytes)) => {
                    self.chunk.clear();
                    self.chunk.extend_from_slice(&bytes);
                    self.at = 0;
                }
                Some(Err(err)) => {
                    let message = format!(
                        "{}: download failed: {}",
                        self.location,
                        DisplayErrorContext(&err)
                    );
                    *self
                        .failure
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(message.clone());
                    return Err(std::io::Error::other(message));
                }
            }
        }
        let n = (self.chunk.len() - self.at).min(buf.len());
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// A dataset under `s3://bucket/prefix/`. Every write is one PUT (atomic); the state is
/// written with If-Match on the ETag read (If-None-Match for the first state), so two
/// concurrent runs never lose an update.
#[derive(Debug, Clone)]
pub struct S3Storage {
    s3: S3,
    root: S3Url,
}

impl S3Storage {
    pub fn new(s3: S3, root: S3Url) -> Self {
        S3Storage { s3, root }
    }

    pub fn root(&self) -> &S3Url {
        &self.root
    }

    fn url(&self, key: &str) -> S3Url {
        self.root.with_key(&format!("{}{key}", self.root.folder()))
    }

    fn block<F: std::future::Future>(&self, future: F) -> F::Output {
        self.s3.runtime.block_on(future)
    }
}

impl Storage for S3Storage {
    fn locate(&self, key: &str) -> String {
        self.url(key).to_string()
    }

    fn get(&self, key: &str) -> Result<Option<Stored>, StorageError> {
        self.block(self.s3.get(&self.url(key)))
    }

    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), StorageError> {
        self.block(self.s3.put(&self.url(key), bytes, None))
            .map(drop)
    }

    fn put_if(
        &self,
        key: &str,
        bytes: &[u8],
        expected: Option<&str>,
    ) -> Result<bool, StorageError> {
        self.block(self.s3.put(&self.url(key), bytes, Some(expected)))
    }

    fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.block(self.s3.delete(&self.url(key)))
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let base = self.root.folder();
        let keys = self.block(self.s3.list(&self.url(prefix)))?;
        Ok(keys
            .into_iter()
            .filter_map(|k| k.strip_prefix(&base).map(str::to_string))
            .collect())
    }

    fn list_folders(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let url = self.url(prefix);
        let under = url.folder();
        let folders = self.block(self.s3.list_folders(&url.with_key(&under)))?;
        Ok(folders
            .into_iter()
            .filter_map(|p| {
                p.strip_prefix(&under)
                    .map(|name| name.trim_end_matches('/').to_string())
            })
            .collect())
    }
}
