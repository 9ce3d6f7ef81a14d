//! Element types a tensor may hold, mapped to their Arrow primitive types.

use crate::TensorError;
use arrow_array::types::*;
use arrow_array::{Array, ArrowPrimitiveType, PrimitiveArray};

/// A numeric element type of the contract (f32 for signals and features, u8 for images and part
/// indices, integers for counts and ids).
pub trait Element:
    arrow_buffer::ArrowNativeType + Copy + Send + Sync + std::fmt::Debug + PartialEq + 'static
{
    /// The matching Arrow primitive type.
    type Arrow: ArrowPrimitiveType<Native = Self>;

    /// The values of an Arrow array of this type, without a copy.
    fn values(array: &dyn Array) -> Result<&[Self], TensorError> {
        array
            .as_any()
            .downcast_ref::<PrimitiveArray<Self::Arrow>>()
            .map(|a| a.values().as_ref())
            .ok_or_else(|| TensorError::DataType {
                expected: format!("{:?}", Self::Arrow::DATA_TYPE),
                found: format!("{:?}", array.data_type()),
            })
    }
}

macro_rules! element {
    ($($native:ty => $arrow:ty),* $(,)?) => {
        $(impl Element for $native {
            type Arrow = $arrow;
        })*
    };
}

element!(
    f32 => Float32Type,
    f64 => Float64Type,
    u8 => UInt8Type,
    u16 => UInt16Type,
    u32 => UInt32Type,
    u64 => UInt64Type,
    i8 => Int8Type,
    i16 => Int16Type,
    i32 => Int32Type,
    i64 => Int64Type,
);
