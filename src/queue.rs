//! The bounded publish queue and its batcher.
//!
//! Readers publish chunks of events with [`QueueSender::send`], which first takes one permit per event from
//! a semaphore of `queue.mem.events` permits: when the output is slow or down the permits run out, `send`
//! waits, reading pauses, the readers stay busy and polling stops. A permit is returned only when its
//! event's chunk is dropped, that is after the output acknowledged it, so the bound covers events queued
//! and in flight, as libbeat's memory queue does. The channel itself is unbounded only in type: nothing
//! enters it without its permits, so it never holds more than `queue.mem.events` events. A reader takes
//! its permits before it parses ([`QueueSender::top_up`], then [`QueueSender::send_reserved`]), so the
//! events it holds between parsing and publishing count against the bound too; only the events of one
//! parse beyond its reservation wait outside it.
//!
//! Every chunk holds an [`Obligation`] of its ack group: [`Chunk::delivered`] discharges it; a chunk
//! dropped any other way (given up at shutdown, lost in a panic) fails its group.
//!
//! The batcher gathers chunks into batches of up to `bulk_max_size` events and hands one to the output as
//! soon as it has `flush.min_events` events or its first event has waited `flush.timeout`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use crate::ack::{AckGroup, Obligation};
use crate::event::Event;

/// Events of one object, published together.
#[derive(Debug)]
pub struct Chunk {
    /// The events.
    pub events: Vec<Event>,
    /// Their ack group's obligation.
    pub ack: Obligation,
    _permits: OwnedSemaphorePermit,
}

impl Chunk {
    /// Marks the chunk's events delivered and releases their queue slots.
    pub fn delivered(self) {
        self.ack.done();
    }
}

/// A batch for the output.
#[derive(Debug, Default)]
pub struct Batch {
    /// Its chunks.
    pub chunks: Vec<Chunk>,
}

impl Batch {
    /// Number of events.
    pub fn len(&self) -> usize {
        self.chunks.iter().map(|c| c.events.len()).sum()
    }

    /// True if the batch holds no event.
    pub fn is_empty(&self) -> bool {
        self.chunks.iter().all(|c| c.events.is_empty())
    }

    /// Every event, in order.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.chunks.iter().flat_map(|c| c.events.iter())
    }

    /// What the batch's events came from, for logs: the distinct group labels, at most 3 and a count.
    pub fn describe(&self) -> String {
        let mut labels: Vec<&str> = Vec::new();
        for c in &self.chunks {
            let l = c.ack.group().label();
            if !labels.contains(&l) {
                labels.push(l);
            }
        }
        let n = labels.len();
        let mut s = labels.into_iter().take(3).collect::<Vec<_>>().join(", ");
        if n > 3 {
            s.push_str(&format!(" and {} more", n - 3));
        }
        format!("{} events from {s}", self.len())
    }

    /// All events delivered: acknowledges them and frees their slots.
    pub fn delivered(self) {
        for c in self.chunks {
            c.delivered();
        }
    }
}

/// The publishing side; cheap to clone.
#[derive(Clone, Debug)]
pub struct QueueSender {
    tx: mpsc::UnboundedSender<Chunk>,
    permits: Arc<Semaphore>,
    capacity: usize,
}

/// The queue was closed (shutdown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

impl QueueSender {
    /// Publishes events; waits while the queue is full.
    pub async fn send(&self, mut events: Vec<Event>, ack: &AckGroup) -> Result<(), Closed> {
        while !events.is_empty() {
            let rest = if events.len() > self.capacity {
                events.split_off(self.capacity)
            } else {
                Vec::new()
            };
            let permits = self.acquire(events.len()).await?;
            self.enqueue(events, ack, permits)?;
            events = rest;
        }
        Ok(())
    }

    /// Takes `n` slots (at most the capacity), waiting while the queue is full.
    async fn acquire(&self, n: usize) -> Result<OwnedSemaphorePermit, Closed> {
        self.permits
            .clone()
            .acquire_many_owned(n.min(self.capacity) as u32)
            .await
            .map_err(|_| Closed)
    }

    /// Puts `events` in the queue as one chunk holding `permits`, one per event.
    fn enqueue(
        &self,
        events: Vec<Event>,
        ack: &AckGroup,
        permits: OwnedSemaphorePermit,
    ) -> Result<(), Closed> {
        let chunk = Chunk {
            events,
            ack: ack.obligation("a chunk of events"),
            _permits: permits,
        };
        // The batcher is gone: the chunk is dropped undelivered, which fails the group.
        self.tx.send(chunk).map_err(|_| Closed)
    }

    /// Takes `n` queue slots before the events that will fill them exist: a reader reserves before it
    /// parses, so the events it holds count against `queue.mem.events` from the moment they are made
    /// (waits while the queue is full, so reading pauses before parsing, not after).
    pub async fn reserve(&self, n: usize) -> Result<Reservation, Closed> {
        Ok(Reservation {
            permits: Some(self.acquire(n).await?),
        })
    }

    /// Adds slots to `r` until it holds `n` (at most the queue's capacity).
    pub async fn top_up(&self, r: &mut Reservation, n: usize) -> Result<(), Closed> {
        let have = r.len();
        let n = n.min(self.capacity);
        if have >= n {
            return Ok(());
        }
        let more = self.acquire(n - have).await?;
        match &mut r.permits {
            Some(p) => p.merge(more),
            slot => *slot = Some(more),
        }
        Ok(())
    }

    /// Publishes events with the slots of `r` first (as many as it holds), then with slots taken as
    /// [`QueueSender::send`] does. The reserved part is queued before waiting for more, so a reader that
    /// made more events than it reserved never holds slots while it waits.
    pub async fn send_reserved(
        &self,
        mut events: Vec<Event>,
        ack: &AckGroup,
        r: &mut Reservation,
    ) -> Result<(), Closed> {
        let k = events.len().min(r.len());
        if k > 0 {
            let rest = events.split_off(k);
            let permits = r
                .permits
                .as_mut()
                .and_then(|p| p.split(k))
                .expect("the reservation holds k slots");
            self.enqueue(events, ack, permits)?;
            events = rest;
        }
        self.send(events, ack).await
    }

    /// The chunk a reader reserves and publishes in for this queue ([`crate::config::chunk_events`]).
    pub fn chunk_events(&self) -> usize {
        crate::config::chunk_events(self.capacity)
    }

    /// Events that can still be published before `send` waits.
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }

    /// Reads how many events are in the queue (published, not yet delivered) without holding the queue
    /// open: the monitoring endpoint keeps this, and the queue still closes when its senders are gone.
    pub fn fill_gauge(&self) -> impl Fn() -> i64 + Send + Sync + 'static {
        let permits = Arc::downgrade(&self.permits);
        let capacity = self.capacity;
        move || {
            permits.upgrade().map_or(0, |p| {
                (capacity - p.available_permits().min(capacity)) as i64
            })
        }
    }
}

/// Queue slots a reader holds for events it is about to make; given back when dropped.
#[derive(Debug, Default)]
pub struct Reservation {
    permits: Option<OwnedSemaphorePermit>,
}

impl Reservation {
    /// Slots held.
    pub fn len(&self) -> usize {
        self.permits.as_ref().map_or(0, |p| p.num_permits())
    }

    /// True when no slot is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Creates the queue: the sender for readers, the receiver for [`run_batcher`].
pub fn channel(capacity: usize) -> (QueueSender, mpsc::UnboundedReceiver<Chunk>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (
        QueueSender {
            tx,
            permits: Arc::new(Semaphore::new(capacity)),
            capacity,
        },
        rx,
    )
}

/// Batching settings.
#[derive(Clone, Copy, Debug)]
pub struct BatchSettings {
    /// Most events per batch (the output's `bulk_max_size`).
    pub max_events: usize,
    /// Flush once this many events are waiting.
    pub min_events: usize,
    /// ... or once the first has waited this long.
    pub timeout: Duration,
}

/// Gathers chunks into batches until the queue is closed and empty, then closes `out`.
pub async fn run_batcher(
    mut rx: mpsc::UnboundedReceiver<Chunk>,
    out: mpsc::Sender<Batch>,
    s: BatchSettings,
) {
    let flush_at = s.min_events.min(s.max_events).max(1);
    let mut batch = Batch::default();
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let next = match deadline {
            None => rx.recv().await,
            Some(d) => match tokio::time::timeout_at(d, rx.recv()).await {
                Ok(c) => c,
                Err(_) => {
                    let full = std::mem::take(&mut batch);
                    deadline = None;
                    if out.send(full).await.is_err() {
                        return;
                    }
                    continue;
                }
            },
        };
        match next {
            None => {
                if !batch.is_empty() {
                    let _ = out.send(batch).await;
                }
                return;
            }
            Some(chunk) => {
                if batch.len() + chunk.events.len() > s.max_events && !batch.is_empty() {
                    let full = std::mem::take(&mut batch);
                    deadline = None;
                    if out.send(full).await.is_err() {
                        return;
                    }
                }
                if batch.is_empty() {
                    deadline = Some(tokio::time::Instant::now() + s.timeout);
                }
                batch.chunks.push(chunk);
                if batch.len() >= flush_at {
                    let full = std::mem::take(&mut batch);
                    deadline = None;
                    if out.send(full).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventId, Timestamp};

    fn ev(i: u8) -> Event {
        Event {
            id: EventId([i; 16]),
            timestamp: Timestamp::from_millis(0),
            format: "json",
            doc: "{\"@timestamp\":\"x\"}".into(),
            parse_failure: false,
        }
    }

    fn group() -> (AckGroup, std::sync::mpsc::Receiver<crate::ack::Outcome>) {
        let (tx, rx) = std::sync::mpsc::channel();
        let g = AckGroup::new("test", move |o| {
            let _ = tx.send(o);
        });
        (g, rx)
    }

    #[tokio::test]
    async fn a_full_queue_blocks_until_events_are_delivered() {
        let (ack, done) = group();
        let (q, mut rx) = channel(3);
        q.send(vec![ev(1), ev(2)], &ack).await.unwrap();
        assert_eq!(q.available(), 1);
        let q2 = q.clone();
        let ack2 = ack.clone();
        let blocked = tokio::spawn(async move { q2.send(vec![ev(3), ev(4)], &ack2).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !blocked.is_finished(),
            "2 more events do not fit in 3 slots with 2 taken"
        );
        rx.recv().await.unwrap().delivered();
        blocked.await.unwrap().unwrap();
        rx.recv().await.unwrap().delivered();
        drop(ack);
        assert_eq!(done.recv().unwrap(), crate::ack::Outcome::Delivered);
        assert_eq!(q.available(), 3);
    }

    #[tokio::test]
    async fn reserved_slots_count_before_the_events_exist_and_are_used_first() {
        let (ack, _done) = group();
        let (q, mut rx) = channel(10);
        let mut r = q.reserve(4).await.unwrap();
        assert_eq!((r.len(), q.available()), (4, 6));
        q.top_up(&mut r, 6).await.unwrap();
        assert_eq!((r.len(), q.available()), (6, 4));
        // Capped at the capacity, so a top-up can always be met.
        let mut big = Reservation::default();
        q.top_up(&mut r, 6).await.unwrap();
        drop(r);
        assert_eq!(q.available(), 10, "dropped: the slots are back");
        q.top_up(&mut big, 50).await.unwrap();
        assert_eq!(big.len(), 10);
        drop(big);
        // 3 reserved, 5 events: 3 go with the reservation, 2 take free slots.
        let mut r = q.reserve(3).await.unwrap();
        q.send_reserved((1..=5).map(ev).collect(), &ack, &mut r)
            .await
            .unwrap();
        assert!(r.is_empty());
        assert_eq!(q.available(), 5);
        let (a, b) = (rx.recv().await.unwrap(), rx.recv().await.unwrap());
        assert_eq!((a.events.len(), b.events.len()), (3, 2));
        // 2 events with 4 reserved: 2 slots stay reserved.
        let mut r = q.reserve(4).await.unwrap();
        q.send_reserved(vec![ev(6), ev(7)], &ack, &mut r)
            .await
            .unwrap();
        assert_eq!((r.len(), q.available()), (2, 1));
        a.delivered();
        b.delivered();
        rx.recv().await.unwrap().delivered();
        drop(r);
        assert_eq!(q.available(), 10);
    }

    #[tokio::test]
    async fn a_chunk_dropped_undelivered_fails_its_group_and_frees_its_slots() {
        let (ack, done) = group();
        let (q, mut rx) = channel(3);
        q.send(vec![ev(1), ev(2)], &ack).await.unwrap();
        drop(ack);
        drop(rx.recv().await.unwrap());
        assert!(matches!(
            done.recv().unwrap(),
            crate::ack::Outcome::Failed(_)
        ));
        assert_eq!(q.available(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn batches_flush_on_size_and_on_timeout() {
        let (ack, _done) = group();
        let (q, rx) = channel(100);
        let (btx, mut brx) = mpsc::channel(4);
        let s = BatchSettings {
            max_events: 4,
            min_events: 3,
            timeout: Duration::from_secs(1),
        };
        let task = tokio::spawn(run_batcher(rx, btx, s));
        q.send(vec![ev(1), ev(2), ev(3), ev(4), ev(5)], &ack)
            .await
            .unwrap();
        // One chunk of 5 is not split: it exceeds max_events only when added to a non-empty batch.
        let b = brx.recv().await.unwrap();
        assert_eq!(b.len(), 5);
        q.send(vec![ev(6)], &ack).await.unwrap();
        let t0 = tokio::time::Instant::now();
        let b = brx.recv().await.unwrap();
        assert_eq!(b.len(), 1);
        assert!(
            t0.elapsed() >= Duration::from_secs(1),
            "flushed by the timeout"
        );
        drop(q);
        assert!(brx.recv().await.is_none());
        task.await.unwrap();
    }
}
