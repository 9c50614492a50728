//! The choices behind one hostile case: a list of numbers that proptest generates and shrinks,
//! read in order by the generators. A number past the end of the list reads as 0, and every
//! generator takes 0 to mean its plainest choice, so when proptest shrinks a failing list
//! (shorter, smaller numbers) the case it describes gets plainer too.

pub struct Tape<'a> {
    values: &'a [u16],
    at: usize,
    /// A calm case writes what a deploy accepts (its data and expressions are still hostile);
    /// the others break the definition itself too.
    pub calm: bool,
}

impl<'a> Tape<'a> {
    pub fn new(values: &'a [u16]) -> Self {
        let mut tape = Self {
            values,
            at: 0,
            calm: false,
        };
        tape.calm = !tape.chance(50);
        tape
    }

    pub fn next(&mut self) -> u32 {
        let value = u32::from(self.values.get(self.at).copied().unwrap_or(0));
        self.at += 1;
        value
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        let value = self.next() as usize;
        if n == 0 {
            0
        } else {
            value % n
        }
    }

    /// A number in `low..=high`, `low` being the plainest.
    pub fn between(&mut self, low: usize, high: usize) -> usize {
        low + self.below(high - low + 1)
    }

    /// True with about `percent` % chance; false for a 0.
    pub fn chance(&mut self, percent: u32) -> bool {
        self.next() % 100 + percent >= 100
    }

    /// [`Tape::chance`] for a choice that breaks the definition: never in a calm case.
    pub fn hostile(&mut self, percent: u32) -> bool {
        let roll = self.chance(percent);
        roll && !self.calm
    }

    /// One of `items`, the first being the plainest.
    pub fn pick<'i, T: ?Sized>(&mut self, items: &'i [&'i T]) -> &'i T {
        items[self.below(items.len())]
    }

    /// Has every choice been read? (The rest of a case is then all plainest choices.)
    pub fn exhausted(&self) -> bool {
        self.at >= self.values.len()
    }
}
