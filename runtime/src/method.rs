//! The per-method glue generated code calls: [`ResultStruct`] (a method's Thrift result
//! struct, mapped to and from the handler's `Result`), [`Reply`] (the result struct of a
//! method that declares no exceptions), and the generic bodies of a generated client method
//! ([`call`], [`call_oneway`]) and of a server's dispatch arm ([`serve`], [`serve_oneway`]).
//! Keeping these generic keeps generated code small: a method without `throws` costs its
//! args struct and a few lines.

use ringrpc_codec::value::{read_field, required, write_field};
use ringrpc_codec::{
    ApplicationErrorKind, ApplicationException, Decode, DecodeError, DecodeErrorKind, Encode,
    EncodeError, ProtocolReader, ProtocolWriter, TType,
};

use crate::call::{CallError, Channel, MethodInfo, OnewayResult, ReplySink};

/// A method's result struct (`<method>_result` on the wire: field 0 holds the return value,
/// fields 1… the declared exceptions), and how it maps to what a handler returns.
pub trait ResultStruct: Encode + Decode + OnewayResult {
    /// What the method returns.
    type Ok;
    /// How it fails: its declared exceptions and [`CallError`].
    type Err: From<CallError>;
    /// The result struct for a handler's outcome, or the undeclared failure to send as a
    /// `TApplicationException`.
    fn from_outcome(outcome: Result<Self::Ok, Self::Err>) -> Result<Self, CallError>;
    /// What the client returns for a received result struct.
    fn into_outcome(self) -> Result<Self::Ok, Self::Err>;
}

/// A method's args struct (`<method>_args` on the wire), tied to its method and result struct
/// so that the generic glue below needs no type annotations.
pub trait MethodArgs: Encode + Decode {
    /// The method's result struct (`()` for oneway methods, which get none).
    type Result: ResultStruct;
    /// The method.
    const METHOD: &'static MethodInfo;
}

/// The outcome a handler of `A`'s method returns.
pub type Outcome<A> = Result<
    <<A as MethodArgs>::Result as ResultStruct>::Ok,
    <<A as MethodArgs>::Result as ResultStruct>::Err,
>;

/// The result struct of a method that declares no exceptions and returns a value (field 0).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply<T>(pub T);

impl<T> OnewayResult for Reply<T> {}

impl<T: Encode> Encode for Reply<T> {
    const TTYPE: TType = TType::Struct;
    #[inline]
    fn encode<W: ProtocolWriter>(&self, w: &mut W) -> Result<(), EncodeError> {
        let scope = w.write_struct_begin();
        write_field(w, 0, &self.0)?;
        w.write_struct_end(scope);
        Ok(())
    }
}

impl<T: Decode> Decode for Reply<T> {
    const TTYPE: TType = TType::Struct;
    #[inline]
    fn decode<R: ProtocolReader>(r: &mut R) -> Result<Self, DecodeError> {
        let scope = r.read_struct_begin()?;
        let mut success = None;
        loop {
            let f = r.read_field_begin()?;
            if f.ttype == TType::Stop {
                break;
            }
            match f.id {
                0 => read_field(r, f.ttype, &mut success, "result", "success", 0)?,
                _ => r.skip(f.ttype)?,
            }
        }
        r.read_struct_end(scope);
        required(success, "result", "success", r.position()).map(Reply)
    }
}

impl<T: Encode + Decode> ResultStruct for Reply<T> {
    type Ok = T;
    type Err = CallError;
    #[inline]
    fn from_outcome(outcome: Result<T, CallError>) -> Result<Self, CallError> {
        outcome.map(Reply)
    }
    #[inline]
    fn into_outcome(self) -> Result<T, CallError> {
        Ok(self.0)
    }
}

/// The result struct of a `void` method without declared exceptions is the empty struct.
impl ResultStruct for () {
    type Ok = ();
    type Err = CallError;
    #[inline]
    fn from_outcome(outcome: Result<(), CallError>) -> Result<Self, CallError> {
        outcome
    }
    #[inline]
    fn into_outcome(self) -> Result<(), CallError> {
        Ok(())
    }
}

/// A generated client method: sends `args` as a call of their method and maps the result
/// struct to the method's return value or error.
pub async fn call<A: MethodArgs>(channel: &(impl Channel + ?Sized), args: &A) -> Outcome<A> {
    channel
        .call::<A, A::Result>(A::METHOD, args)
        .await?
        .into_outcome()
}

/// A generated client method of a `oneway` method: sends `args`, awaits no reply.
pub async fn call_oneway<A: MethodArgs>(
    channel: &(impl Channel + ?Sized),
    args: &A,
) -> Result<(), CallError> {
    channel.call::<A, ()>(A::METHOD, args).await
}

/// A dispatch arm: decodes the arguments `A` from `r`, runs `handler` on them and replies
/// through `sink` with the method's result struct, a `TApplicationException` for an
/// undeclared failure, or `PROTOCOL_ERROR` when the arguments cannot be decoded.
pub async fn serve<A: MethodArgs>(
    r: &mut impl ProtocolReader,
    sink: &mut (impl ReplySink + ?Sized),
    handler: impl AsyncFnOnce(A) -> Outcome<A>,
) -> Result<(), EncodeError> {
    let args = match A::decode(r) {
        Ok(args) => args,
        Err(e) => return sink.exception(&bad_arguments(&e)),
    };
    let outcome = handler(args).await;
    if outcome.is_err() {
        sink.declared_exception();
    }
    match A::Result::from_outcome(outcome) {
        Ok(result) => sink.reply(&result),
        Err(e) => sink.exception(&e.to_application_exception()),
    }
}

/// A dispatch arm of a `oneway` method: decodes the arguments and runs `handler`; nothing is
/// sent back, not even for arguments that cannot be decoded (the call is dropped).
pub async fn serve_oneway<A: MethodArgs>(
    r: &mut impl ProtocolReader,
    handler: impl AsyncFnOnce(A) -> Result<(), CallError>,
) -> Result<(), EncodeError> {
    match A::decode(r) {
        // A oneway caller waits for nothing: the outcome has nowhere to go but the log.
        Ok(args) => {
            if let Err(e) = handler(args).await {
                tracing::warn!(method = A::METHOD.name, "a oneway call failed: {e}");
            }
        }
        Err(e) => {
            tracing::warn!(
                method = A::METHOD.name,
                "a oneway call's arguments were dropped: {e}"
            );
        }
    }
    Ok(())
}

/// Answers a call of a method the service does not have, after skipping its arguments, as
/// Apache servers do.
pub fn unknown_method<R, S>(
    r: &mut R,
    sink: &mut S,
    service: &str,
    method: &str,
) -> Result<(), EncodeError>
where
    R: ProtocolReader,
    S: ReplySink + ?Sized,
{
    let _ = r.skip(TType::Struct);
    sink.exception(&ApplicationException::new(
        ApplicationErrorKind::UNKNOWN_METHOD,
        format!("unknown method `{method}` of service `{service}`"),
    ))
}

fn bad_arguments(e: &DecodeError) -> ApplicationException {
    ApplicationException::new(ApplicationErrorKind::PROTOCOL_ERROR, e.to_string())
}

/// A required field missing from a result struct: `success` of a non-void method's reply.
pub fn missing_success(result: &'static str, position: usize) -> DecodeError {
    DecodeError::new(
        DecodeErrorKind::MissingRequiredField {
            strukt: result,
            field: "success",
        },
        position,
    )
}
