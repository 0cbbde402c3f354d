//! Reading and evaluating at the same time: a source that lends each
//! resource's text (a store scan, which reads pages and decompresses
//! bodies on one thread) runs on a thread of its own and hands blocks of
//! texts to the calling thread, which evaluates them (on rayon) while the
//! next block is read.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use super::error::Result;

/// Bytes of resource text per block handed from the reader to the evaluator.
const BLOCK_BYTES: usize = 2 << 20;

/// Blocks read ahead of the evaluator (about 32 MiB of text; a block ends
/// with the resource that takes it past `BLOCK_BYTES`).
const QUEUED: usize = 16;

/// Texts one after another, with the end of each.
#[derive(Default)]
struct Block {
    text: String,
    ends: Vec<usize>,
}

/// Runs `read` on its own thread and passes each resource text it lends
/// (through the callback it is given) to `each` on the calling thread, in
/// order. The callback answers `false` once `each` has failed or asked to
/// stop (`Ok(false)`, e.g. a row limit reached); `read` should then stop
/// early. Returns what `read` returned and the error of `each`, if any.
///
/// `read` runs ahead of `each`: when `each` stops early, `read` may already
/// have met an error further on, which the caller should then disregard.
///
/// ```
/// let texts = ["{\"id\":\"a\"}", "{\"id\":\"b\"}", "{\"id\":\"c\"}"];
/// let mut seen = Vec::new();
/// let (read, each) = analytics::view::overlapped(
///     |give| texts.iter().take_while(|t| give(t)).count(),
///     &mut |t| {
///         seen.push(t.to_string());
///         Ok(seen.len() < 2)
///     },
/// );
/// assert!(each.is_ok());
/// assert_eq!(seen, ["{\"id\":\"a\"}", "{\"id\":\"b\"}"]);
/// assert!(read <= 3);
/// ```
pub fn overlapped<R: Send>(
    read: impl FnOnce(&mut dyn FnMut(&str) -> bool) -> R + Send,
    each: &mut dyn FnMut(&str) -> Result<bool>,
) -> (R, Result<()>) {
    // Set when `each` stops, so the reader stops at its next resource.
    let stopped = AtomicBool::new(false);
    std::thread::scope(|scope| {
        // Up to QUEUED blocks wait while the evaluator works through a chunk
        // of its own (a `ViewSink` evaluates 16,384 resources at a time), so
        // the reader keeps reading meanwhile; memory stays bounded.
        let (tx, rx) = mpsc::sync_channel::<Block>(QUEUED);
        // Evaluated blocks go back to the reader to be filled again.
        let (back_tx, back_rx) = mpsc::channel::<Block>();
        let stop = &stopped;
        let reader = scope.spawn(move || {
            let mut block = Block::default();
            let mut open = true;
            let r = read(&mut |text| {
                if !open || stop.load(Ordering::Relaxed) {
                    open = false;
                    return false;
                }
                block.text.push_str(text);
                block.ends.push(block.text.len());
                if block.text.len() >= BLOCK_BYTES {
                    let next = back_rx.try_recv().unwrap_or_default();
                    open = tx.send(std::mem::replace(&mut block, next)).is_ok();
                }
                open
            });
            if open && !block.ends.is_empty() {
                // The evaluator may have stopped meanwhile; then nobody wants the rest.
                let _ = tx.send(block);
            }
            r
        });
        let mut outcome = Ok(());
        'blocks: for mut block in rx.iter() {
            let mut start = 0;
            for &end in &block.ends {
                match each(&block.text[start..end]) {
                    Ok(true) => {}
                    Ok(false) => break 'blocks,
                    Err(e) => {
                        outcome = Err(e);
                        break 'blocks;
                    }
                }
                start = end;
            }
            block.text.clear();
            block.ends.clear();
            // The reader may have finished; the block is then simply dropped.
            let _ = back_tx.send(block);
        }
        // Stops the reader, and unblocks one waiting to hand over a block nobody will read.
        stopped.store(true, Ordering::Relaxed);
        drop(rx);
        match reader.join() {
            Ok(r) => (r, outcome),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::Error;

    fn texts(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{{\"resourceType\":\"Patient\",\"id\":\"p{i}\",\"pad\":\"{}\"}}", "x".repeat(i % 4000))).collect()
    }

    #[test]
    fn every_text_arrives_in_order_across_blocks() {
        let all = texts(3000);
        let mut seen = Vec::new();
        let (read, each) = overlapped(
            |give| all.iter().all(|t| give(t)),
            &mut |t| {
                seen.push(t.to_string());
                Ok(true)
            },
        );
        assert!(read && each.is_ok());
        assert_eq!(seen, all);
    }

    #[test]
    fn a_stop_or_an_error_stops_the_reader_early() {
        let all = texts(20_000);
        for fail in [false, true] {
            let mut n = 0;
            let (given, each) = overlapped(
                |give| all.iter().take_while(|t| give(t)).count(),
                &mut |_| {
                    n += 1;
                    match (n, fail) {
                        (5, true) => Err(Error::Source("broken".into())),
                        (5, false) => Ok(false),
                        _ => Ok(true),
                    }
                },
            );
            assert_eq!(n, 5);
            assert_eq!(each.is_err(), fail);
            // The reader stopped within a few blocks, not at the end of its input.
            assert!(given < all.len(), "{given}");
        }
    }

    #[test]
    fn a_reader_panic_reaches_the_caller() {
        let r = std::panic::catch_unwind(|| overlapped(|_give| -> () { panic!("reader broke") }, &mut |_| Ok(true)));
        assert!(r.is_err());
    }
}
