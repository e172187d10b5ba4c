//! Copying a local file to an object: what makes a written file readable in place.

use std::io::Read;
use std::sync::Arc;

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

use crate::error::Error;

/// Files up to this size go in one PUT; larger ones in parts of this size.
const PART_LEN: usize = 16 << 20;

/// Copies the file at `local` to `url` (`s3://BUCKET/KEY` or `file:///PATH`, see
/// [`store_for`](crate::store_for)), in one PUT or, above 16 MiB, a multipart upload of 16 MiB
/// parts. The object appears whole or not at all: S3 shows an upload only once it completes.
///
/// # Errors
/// [`Error::Location`] or [`Error::Configure`] as [`store_for`](crate::store_for) gives
/// them, [`Error::Upload`] when the file cannot be read or the store refuses the upload.
pub fn upload(local: &std::path::Path, url: &str) -> Result<u64, Error> {
    let (store, path) = crate::store_for(url)?;
    upload_to(store, path, local, url)
}

/// As [`upload`], to `path` in `store`; `url` names the object in errors. Returns the bytes copied.
///
/// # Errors
/// As [`upload`].
pub fn upload_to(store: Arc<dyn ObjectStore>, path: Path, local: &std::path::Path, url: &str) -> Result<u64, Error> {
    let failed = |reason: String| Error::Upload { url: url.to_owned(), local: local.to_path_buf(), reason };
    let mut file = std::fs::File::open(local).map_err(|err| failed(err.to_string()))?;
    let len = file.metadata().map_err(|err| failed(err.to_string()))?.len();
    let runtime = crate::runtime::shared();
    if len <= PART_LEN as u64 {
        let mut bytes = Vec::with_capacity(len as usize);
        file.read_to_end(&mut bytes).map_err(|err| failed(err.to_string()))?;
        let copied = bytes.len() as u64;
        let put = async move { store.put(&path, PutPayload::from(bytes)).await };
        crate::runtime::wait(&runtime, put)
            .ok_or_else(|| failed("the runtime that runs requests shut down".into()))?
            .map_err(|err| failed(err.to_string()))?;
        return Ok(copied);
    }
    let (chunks, chunk) = std::sync::mpsc::sync_channel::<std::io::Result<Vec<u8>>>(2);
    let reader = std::thread::spawn(move || loop {
        let mut part = vec![0; PART_LEN];
        let mut filled = 0;
        while filled < PART_LEN {
            match file.read(&mut part[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(err) => {
                    let _ = chunks.send(Err(err));
                    return;
                }
            }
        }
        part.truncate(filled);
        let last = filled < PART_LEN;
        if !part.is_empty() && chunks.send(Ok(part)).is_err() {
            return;
        }
        if last {
            return;
        }
    });
    let send = async move {
        let mut upload = WriteMultipart::new_with_chunk_size(
            store.put_multipart(&path).await.map_err(|err| err.to_string())?,
            PART_LEN,
        );
        let mut copied = 0u64;
        loop {
            let next = tokio::task::block_in_place(|| chunk.recv());
            match next {
                Ok(Ok(part)) => {
                    upload.wait_for_capacity(4).await.map_err(|err| err.to_string())?;
                    copied += part.len() as u64;
                    upload.write(&part);
                }
                Ok(Err(err)) => {
                    let _ = upload.abort().await;
                    return Err(err.to_string());
                }
                Err(_) => break,
            }
        }
        upload.finish().await.map_err(|err| err.to_string())?;
        Ok(copied)
    };
    let result =
        crate::runtime::wait(&runtime, send).unwrap_or_else(|| Err("the runtime that runs requests shut down".into()));
    let _ = reader.join();
    result.map_err(failed)
}

/// Checks that the object at `path` in `store` holds exactly the bytes of the file at `local`:
/// reads the object back whole and compares it with the file, byte for byte. What a tier runs
/// before it records that an upload is a copy it may rely on.
///
/// # Errors
/// [`Error::Upload`] naming the first byte that differs, a length that differs, or the failed
/// read.
pub fn check_upload(store: Arc<dyn ObjectStore>, path: Path, local: &std::path::Path, url: &str) -> Result<u64, Error> {
    let failed = |reason: String| Error::Upload { url: url.to_owned(), local: local.to_path_buf(), reason };
    let mut file = std::fs::File::open(local).map_err(|err| failed(format!("reading the file back: {err}")))?;
    let len = file.metadata().map_err(|err| failed(err.to_string()))?.len();
    let (chunks, chunk) = std::sync::mpsc::sync_channel::<Result<bytes::Bytes, String>>(4);
    let runtime = crate::runtime::shared();
    runtime.spawn(async move {
        use futures_util::StreamExt;
        let mut stream = match store.get(&path).await {
            Ok(answer) => answer.into_stream(),
            Err(err) => {
                let _ = chunks.send(Err(err.to_string()));
                return;
            }
        };
        while let Some(next) = stream.next().await {
            let failed = next.is_err();
            if chunks.send(next.map_err(|err| err.to_string())).is_err() || failed {
                return;
            }
        }
    });
    let mut compared = 0u64;
    let mut expected = Vec::new();
    for next in chunk {
        let got = next.map_err(|err| failed(format!("reading the copy back: {err}")))?;
        expected.resize(got.len(), 0);
        let read = read_up_to(&mut file, &mut expected).map_err(|err| failed(err.to_string()))?;
        if let Some(at) = got[..read].iter().zip(&expected[..read]).position(|(a, b)| a != b) {
            return Err(failed(format!("the copy differs from the file at byte {}", compared + at as u64)));
        }
        compared += read as u64;
        if read < got.len() {
            return Err(failed(format!("the copy is longer than the file's {len} bytes")));
        }
    }
    if compared != len {
        return Err(failed(format!("the copy is {compared} bytes, the file {len}")));
    }
    Ok(compared)
}

/// Fills `buf` from `file` as far as the file goes; the bytes read.
fn read_up_to(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// Deletes the object at `path` in `store`; an object that is not there counts as deleted.
///
/// # Errors
/// [`Error::Delete`] when the store refuses or cannot be reached.
pub fn delete(store: Arc<dyn ObjectStore>, path: Path, url: &str) -> Result<(), Error> {
    let runtime = crate::runtime::shared();
    let deleted = async move { store.delete(&path).await };
    let gone = |source| Error::Delete { url: url.to_owned(), source };
    match crate::runtime::wait(&runtime, deleted) {
        Some(Ok(())) | Some(Err(object_store::Error::NotFound { .. })) => Ok(()),
        Some(Err(err)) => Err(gone(err)),
        None => Err(gone(object_store::Error::Generic {
            store: "esdb-object-store",
            source: "the runtime that runs requests shut down".into(),
        })),
    }
}
