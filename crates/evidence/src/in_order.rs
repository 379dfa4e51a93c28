//! Work spread over a few threads, its results in the order of the work (so what is
//! reported does not depend on which thread finished first).

use std::sync::atomic::{AtomicUsize, Ordering};

/// The threads to use when none are given: the number of cores.
pub(crate) fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `f` over every item on up to `threads` threads pulling from a shared index, each
/// thread with its own `state`; the results in the items' order.
pub(crate) fn map_in_order<T, S, R>(
    items: &[T],
    threads: usize,
    state: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, &T) -> R + Sync,
) -> Vec<R>
where
    T: Sync,
    R: Send,
{
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        let mut state = state();
        return items.iter().map(|item| f(&mut state, item)).collect();
    }
    let next = AtomicUsize::new(0);
    let parts: Vec<Vec<(usize, R)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut state = state();
                    let mut done = Vec::new();
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(n) else { break };
                        done.push((n, f(&mut state, item)));
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p))
            })
            .collect()
    });
    let mut slots: Vec<Option<R>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    for (n, result) in parts.into_iter().flatten() {
        slots[n] = Some(result);
    }
    slots
        .into_iter()
        .map(|r| r.expect("every item was taken by a thread"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_order_of_the_items_whatever_the_threads() {
        let items: Vec<u64> = (0..1000).collect();
        for threads in [1, 2, 7] {
            let squares = map_in_order(
                &items,
                threads,
                || 0u32,
                |calls, &x| {
                    *calls += 1;
                    x * x
                },
            );
            assert_eq!(squares, items.iter().map(|x| x * x).collect::<Vec<_>>());
        }
        assert!(map_in_order(&[] as &[u8], 4, || (), |_, &x| x).is_empty());
    }
}
