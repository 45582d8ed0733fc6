mod story;
