pub mod mock_atlas;
