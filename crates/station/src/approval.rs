//! placeholder
pub struct Approvals;
pub struct StudyRecord;
pub enum StudyState {}
