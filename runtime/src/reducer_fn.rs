//! Checking a user reducer function (`#[state(reducer = path)]`) with an error that says what a
//! reducer is. Method resolution tries three impls in order (autoref specialization): a
//! function that merges in place, `fn(&mut T, T)`, is the reducer; a LangGraph-style function
//! returning the merged value, `fn(T, T) -> T`, is reported as such; anything else is reported
//! as not a reducer of the field's type.

use std::marker::PhantomData;

/// A user reducer function `F` for a field of type `T`, being checked.
pub struct ReducerProbe<F, T>(F, PhantomData<fn(T)>);

impl<F, T> ReducerProbe<F, T> {
    /// Wraps `f`.
    pub fn new(f: F) -> Self {
        Self(f, PhantomData)
    }
}

/// A reducer that merges in place: the one shape stategraph accepts.
pub trait InPlace<T> {
    /// Merges `write` into `current`.
    fn merge(&self, current: &mut T, write: T);
}

impl<F: Fn(&mut T, T), T> InPlace<T> for &&ReducerProbe<F, T> {
    fn merge(&self, current: &mut T, write: T) {
        (self.0)(current, write)
    }
}

/// The shape of a LangGraph reducer, which stategraph does not take.
#[diagnostic::on_unimplemented(
    message = "this reducer returns the merged value, LangGraph style; a stategraph reducer merges in place",
    label = "expected `fn(&mut {T}, {T})`",
    note = "write it as `fn merge(current: &mut {T}, write: {T})`, changing `current` instead of returning a new value"
)]
pub trait MergesInPlace<T> {}

/// A LangGraph-style reducer (`fn(T, T) -> T`): reported, never run.
pub trait ReturnsMerged<T> {
    /// Reports the function's shape.
    fn merge(&self, current: &mut T, write: T)
    where
        Self: MergesInPlace<T>;
}

impl<F: Fn(T, T) -> T, T> ReturnsMerged<T> for &ReducerProbe<F, T> {
    fn merge(&self, _: &mut T, _: T)
    where
        Self: MergesInPlace<T>,
    {
    }
}

/// A function of any other shape.
#[diagnostic::on_unimplemented(
    message = "this function is not a reducer of a field of type `{T}`",
    label = "expected `fn(&mut {T}, {T})`",
    note = "a custom reducer merges one write into the field's value in place: `fn merge(current: &mut {T}, write: {T})`"
)]
pub trait IsReducerOf<T> {}

/// Anything else: reported, never run.
pub trait NotAReducer<T> {
    /// Reports the mismatch.
    fn merge(&self, current: &mut T, write: T)
    where
        Self: IsReducerOf<T>;
}

impl<F, T> NotAReducer<T> for ReducerProbe<F, T> {
    fn merge(&self, _: &mut T, _: T)
    where
        Self: IsReducerOf<T>,
    {
    }
}
